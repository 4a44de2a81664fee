import Foundation
import Testing

@testable import PortcullisCore

/// The project root, found from this file's location.
let projectRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

@Suite("Config documentation")
struct ConfigDocumentationTests {
    @Test("every config field is documented in docs/configuration.md")
    func everyFieldDocumented() throws {
        let doc = try String(contentsOf: projectRoot.appendingPathComponent("docs/configuration.md"), encoding: .utf8)
        let paths = GatewayConfig.fieldPaths()
        #expect(paths.contains("routes[].timeouts.connect"))
        let missing = paths.filter { !doc.contains("`\($0)`") }
        #expect(missing.isEmpty, "fields missing from docs/configuration.md: \(missing)")
    }

    @Test("config.example.json is valid and shows every field")
    func exampleIsCompleteAndValid() throws {
        let url = projectRoot.appendingPathComponent("config.example.json")
        let config = try GatewayConfig.load(file: url.path)
        #expect(!config.routes.isEmpty)

        // Every field path must appear in the example.
        let document = try JSONValue.parse(Data(contentsOf: url))
        var shown: Set<String> = []
        // A section shown as null is an alternative to another shown field (a client
        // certificate instead of a secret file); its fields count as shown.
        var alternatives: [String] = []
        func collect(_ value: JSONValue, _ path: String) {
            switch value {
            case .null: alternatives.append(path + ".")
            case .object(let object):
                for (key, child) in object {
                    let childPath = path.isEmpty ? key : "\(path).\(key)"
                    shown.insert(childPath)
                    collect(child, childPath)
                }
            case .array(let items):
                for item in items { if case .object = item { collect(item, path + "[]") } }
            default: break
            }
        }
        collect(document, "")
        let missing = GatewayConfig.fieldPaths().filter { path in
            !shown.contains(path) && !alternatives.contains { path.hasPrefix($0) }
        }
        #expect(missing.isEmpty, "fields missing from config.example.json: \(missing)")
    }
}
