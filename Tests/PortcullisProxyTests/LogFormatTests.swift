import Foundation
import Logging
import Testing

@testable import PortcullisProxy

@Suite("Log lines")
struct LogFormatTests {
    @Test("JSON lines are valid JSON with the metadata as fields, escaped")
    func jsonLine() throws {
        let line = LineLogHandler.json(
            label: "portcullis.access", level: .info, message: "access",
            ["path": "/a\"b\n", "status": "200", "route": "app"])
        #expect(line.hasSuffix("}\n"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["msg"] as? String == "access")
        #expect(object["path"] as? String == "/a\"b\n")
        #expect(object["status"] as? Int == 200)
        #expect(object["logger"] as? String == "portcullis.access")
        let timestamp = try #require(object["ts"] as? String)
        #expect(timestamp.count == 24 && timestamp.hasSuffix("Z"), "\(timestamp)")
    }

    @Test("text lines carry level, label, message and sorted metadata")
    func textLine() {
        let line = LineLogHandler.text(label: "portcullis", level: .warning, message: "upstream failed", ["route": "a", "error": "x"])
        #expect(line.contains(" WARNING portcullis: upstream failed error=x route=a\n"))
    }
}
