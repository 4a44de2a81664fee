import Foundation
import Testing

@testable import PortcullisProxy

@Suite("Access log (live)")
struct AccessLogTests {
    /// Runs two requests with the access log on and returns the lines written.
    func lines(format: String) async throws -> [String] {
        let path = NSTemporaryDirectory() + "pc-access-\(UUID().uuidString).log"
        let fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0o600)
        #expect(fd >= 0)
        defer { close(fd); unlink(path) }
        let sink = LineSink(fileDescriptor: fd)
        return try await TestGateway.with(logging: #"{ "accessLog": true, "format": "\#(format)" }"#, accessLogSink: sink) { gateway in
            let client = try await gateway.client()
            #expect(try await client.send("/callback?code=SECRET-CODE&state=s").status == 200)
            #expect(try await client.send("/.portcullis/healthz").status == 200)
            await client.close()
            sink.flush()
            return try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        }
    }

    @Test("one JSON line per request: route, status, sizes, and never the query string")
    func jsonLines() async throws {
        let lines = try await lines(format: "json")
        #expect(lines.count == 2)
        let proxied = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        #expect(proxied["path"] as? String == "/callback")
        #expect(proxied["protocol"] as? String == "HTTP/1.1")
        #expect(proxied["route"] as? String == "app")
        #expect(proxied["status"] as? Int == 200)
        #expect(proxied["outcome"] as? String == "proxied")
        #expect((proxied["bytesOut"] as? Int ?? 0) > 0)
        #expect(proxied["upstreamMs"] != nil)
        let local = try #require(try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as? [String: Any])
        #expect(local["path"] as? String == "/.portcullis/healthz")
        #expect(local["outcome"] as? String == "local")
        #expect(!lines.joined().contains("SECRET-CODE"))
    }

    @Test("text lines carry the same fields")
    func textLines() async throws {
        let lines = try await lines(format: "text")
        #expect(lines.count == 2)
        #expect(lines[0].contains("portcullis.access: GET /callback HTTP/1.1 route=app status=200"), "\(lines[0])")
        #expect(!lines.joined().contains("SECRET-CODE"))
    }
}
