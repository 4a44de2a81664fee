import Foundation
import PortcullisCore
import Testing

/// The files in `deploy/` are checked, not just written: the systemd unit by
/// `systemd-analyze verify` (against the real executable), the YAML parsed (PyYAML) and
/// checked for what an admin relies on, the Dockerfile checked for its stages, user and
/// health check, and the Kubernetes ConfigMap's config validated by the gateway itself.
@Suite("deploy/ files")
struct DeployFilesTests {
    static let root = ExternalTools.projectRoot
    static let hasSystemdAnalyze = FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze")
    static let hasYAML = ExternalTools.pythonCanImport("yaml")

    static func text(_ path: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
    }

    @Test("the systemd unit verifies, is hardened, reloads with SIGHUP and loads its secrets as credentials")
    func systemdUnit() async throws {
        let unit = try Self.text("deploy/systemd/portcullis.service")
        for line in [
            "DynamicUser=yes", "ProtectSystem=strict", "NoNewPrivileges=yes", "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
            "ExecReload=/bin/kill -HUP $MAINPID", "LoadCredential=client-secret:",
        ] {
            #expect(unit.contains(line), "missing \(line)")
        }
        guard Self.hasSystemdAnalyze, let executable = SignalTests.executable else {
            #expect(!ExternalTools.isCI, "systemd-analyze or the portcullis executable is missing")
            return
        }
        // Verified with the real binary where the unit expects it installed.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pc-unit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let copy = folder.appendingPathComponent("portcullis.service")
        try unit.replacingOccurrences(of: "/usr/local/bin/portcullis", with: executable.path).write(to: copy, atomically: true, encoding: .utf8)
        let result = try await ExternalTools.runDetached(["systemd-analyze", "verify", copy.path])
        #expect(result.status == 0, "\(result.error)")
        #expect(!result.error.contains("Unknown key") && !result.error.contains("Unknown section"), "\(result.error)")
    }

    @Test("the Dockerfile builds in one stage and runs from a slim one as a non-root user, with a health check")
    func dockerfile() throws {
        let lines = try Self.text("deploy/docker/Dockerfile").split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        let stages = lines.filter { $0.hasPrefix("FROM ") }
        #expect(stages.count == 2)
        #expect(stages.first?.hasSuffix(" AS build") == true)
        #expect(lines.contains { $0.hasPrefix("COPY --from=build ") })
        let user = lines.last { $0.hasPrefix("USER ") }.map { String($0.dropFirst(5)) }
        #expect(user != nil && user != "root" && user?.hasPrefix("0") == false, "runs as \(user ?? "root")")
        #expect(lines.contains { $0.hasPrefix("HEALTHCHECK ") } && lines.contains { $0.contains("/.portcullis/healthz") })
        #expect(lines.contains { $0.hasPrefix("ENTRYPOINT [\"/usr/local/bin/portcullis\"]") })
    }

    @Test("the Kubernetes, Traefik and ingress YAML parse and hold what an admin relies on; the ConfigMap's config is valid")
    func yaml() async throws {
        guard Self.hasYAML else {
            #expect(!ExternalTools.isCI, "PyYAML is missing")
            return
        }
        let result = try await ExternalTools.runDetached(["python3", Self.root.appendingPathComponent("Tests/Deploy/check_yaml.py").path, Self.root.path])
        #expect(result.status == 0, "\(result.error)")
        let facts = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
        #expect(facts["kinds"] as? [String] == ["ConfigMap", "Deployment", "PodDisruptionBudget", "Service"])
        #expect((facts["replicas"] as? Int ?? 0) >= 2)
        #expect(facts["readiness"] as? String == "/.portcullis/readyz")
        #expect(facts["liveness"] as? String == "/.portcullis/healthz")
        #expect(facts["requests"] as? [String] == ["cpu", "memory"])
        #expect(facts["readOnlyRoot"] as? Bool == true)
        #expect(facts["runAsNonRoot"] as? Bool == true)
        #expect(facts["secretVolume"] as? Bool == true && facts["configMapVolume"] as? Bool == true)
        #expect(facts["pdbMinAvailable"] as? Int == 1)
        #expect(facts["env"] as? [String] == ["PORTCULLIS_CLIENT_SECRET", "PORTCULLIS_DATABASE_URL"])
        // The config shipped in the ConfigMap is one the gateway accepts, given the Secret's
        // values where the Deployment puts them.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pc-k8s-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let key = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        try (key + "\n").write(to: folder.appendingPathComponent("session-keys"), atomically: true, encoding: .utf8)
        let config = try #require(facts["configJSON"] as? String).replacingOccurrences(of: "/etc/portcullis/secrets/", with: folder.path + "/")
        let secrets = ["PORTCULLIS_CLIENT_SECRET": "s3cret", "PORTCULLIS_DATABASE_URL": "postgres://portcullis:pw@db.internal:5432/portcullis"]
        #expect(throws: Never.self) { try GatewayConfig.load(Data(config.utf8), environment: { secrets[$0] }) }
        #expect((facts["traefikAddress"] as? String)?.hasSuffix("/.portcullis/verify?redirect=true") == true)
        #expect((facts["traefikHeaders"] as? [String])?.contains("X-Forwarded-User") == true)
        #expect((facts["ingressAuthURL"] as? String)?.hasSuffix("/.portcullis/verify") == true)
    }
}
