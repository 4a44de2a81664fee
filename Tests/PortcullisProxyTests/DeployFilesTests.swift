import Foundation
import PortcullisCore
import PortcullisDevIdP
import Testing

/// The files in `deploy/` are checked, not just written: the systemd unit by
/// `systemd-analyze verify` (against the real executable), the YAML parsed (PyYAML) and
/// checked for what an admin relies on, the Dockerfile checked for its stages, user and
/// health check, and the Kubernetes ConfigMap's config and the compose trial's gateway configs
/// (with the development IdP directory they sign in at) validated by the gateway itself.
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

    /// What Tests/Deploy/check_yaml.py reads from the deploy/ YAML; nil (a failure under CI)
    /// without PyYAML.
    static func yamlFacts() async throws -> [String: Any]? {
        guard hasYAML else {
            #expect(!ExternalTools.isCI, "PyYAML is missing")
            return nil
        }
        let result = try await ExternalTools.runDetached(["python3", root.appendingPathComponent("Tests/Deploy/check_yaml.py").path, root.path])
        #expect(result.status == 0, "\(result.error)")
        return try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
    }

    static let hasHadolint = (try? ExternalTools.run(["hadolint", "--version"]).status) == 0

    @Test("hadolint passes the Dockerfile", .enabled(if: hasHadolint || ExternalTools.isCI))
    func dockerfileLint() async throws {
        let result = try await ExternalTools.runDetached(["hadolint", "--no-color", Self.root.appendingPathComponent("deploy/docker/Dockerfile").path])
        #expect(result.status == 0, "\(result.output)\(result.error)")
    }

    @Test("the Kubernetes, Traefik and ingress YAML parse and hold what an admin relies on; the ConfigMap's config is valid")
    func yaml() async throws {
        guard let facts = try await Self.yamlFacts() else { return }
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

    @Test("the compose trial: two replicas of one image share PostgreSQL, the keys and the IdP's issuer; their configs are valid")
    func compose() async throws {
        guard let facts = try await Self.yamlFacts() else { return }
        #expect(facts["composeServices"] as? [String] == ["dev-idp", "echo", "gateway-a", "gateway-b", "postgres"])
        // Host networking everywhere: the browser and the gateways reach the IdP at one URL, its issuer.
        let modes = try #require(facts["composeNetworkModes"] as? [String: String])
        #expect(modes.count == 5 && modes.values.allSatisfy { $0 == "host" }, "\(modes)")
        let healthchecks = try #require(facts["composeHealthchecks"] as? [String: String])
        #expect(healthchecks["postgres"]?.contains("pg_isready") == true)

        // Two gateways from the same image, built from deploy/docker/Dockerfile, each serving its own config.
        let gateways = try #require(facts["composeGateways"] as? [[String: Any]])
        #expect(gateways.count == 2)
        let images = gateways.compactMap { $0["image"] as? String }, builds = gateways.compactMap { $0["buildKey"] as? String }
        #expect(images.count == 2 && Set(images).count == 1, "\(images)")
        #expect(builds.count == 2 && Set(builds).count == 1, "\(builds)")
        var configs: [GatewayConfig] = []
        for gateway in gateways {
            let name = gateway["name"] as? String ?? "?"
            #expect(gateway["dockerfile"] as? String == "deploy/docker/Dockerfile", "\(name)")
            #expect((gateway["command"] as? [String])?.first == "serve", "\(name)")
            #expect(Set(gateway["dependsOn"] as? [String] ?? []) == ["dev-idp", "echo", "postgres"], "\(name)")
            let file = try #require(gateway["configFile"] as? String, "\(name): its --config is not in a mounted folder")
            let path = Self.root.appendingPathComponent(file).path
            // Loaded as `portcullis check-config` loads it: relative paths from the config's folder.
            #expect(throws: Never.self) { try GatewayConfig.load(file: path) }
            guard let config = try? GatewayConfig.load(file: path) else { continue }
            configs.append(config)
            #expect(config.listen.address == "127.0.0.1", "\(name)")
            #expect(config.publicURL.origin == "http://127.0.0.1:\(config.listen.port)", "\(name)")
            #expect(
                (gateway["healthcheck"] as? String)?.contains("http://127.0.0.1:\(config.listen.port)/.portcullis/readyz") == true,
                "\(name) checks another port than it listens on")
            #expect(config.session.store.kind == .postgres, "\(name)")
            // Every file the config names is one of the published examples beside it.
            #expect(config.referencedFiles.count == 4, "\(name): \(config.referencedFiles)")
            for referenced in config.referencedFiles {
                #expect(URL(fileURLWithPath: referenced).lastPathComponent.hasPrefix("example-"), "\(name): \(referenced)")
            }
        }
        try #require(configs.count == 2)
        let (a, b) = (configs[0], configs[1])
        // One host: public and admin ports all differ.
        #expect(Set([a.listen.port, b.listen.port, a.admin.listen.port, b.admin.listen.port]).count == 4)
        // One store, one sealing key ring, one assertion key: either replica opens the other's
        // cookies and pending sign-ins, and signs with a key both publish.
        #expect(a.session.store.url != nil && a.session.store.url == b.session.store.url)
        #expect(a.session.store.url?.value.contains("@127.0.0.1:5432/") == true)
        #expect(!a.session.keys.isEmpty && a.session.keys == b.session.keys)
        #expect(a.assertion?.keyPEM != nil && a.assertion?.keyPEM == b.assertion?.keyPEM)

        let postgres = try #require((facts["composePostgres"] as? [[String: Any]])?.first)
        #expect((postgres["command"] as? [String])?.contains("listen_addresses=127.0.0.1") == true)
        let echoPort = try #require((facts["composeEcho"] as? [[String: Any]])?.first?["port"] as? String)
        #expect(healthchecks["echo"]?.contains("127.0.0.1:\(echoPort)") == true)
        for config in configs {
            for route in config.routes {
                #expect(route.upstream.origin == "http://127.0.0.1:\(echoPort)", "route \(route.name)")
            }
        }

        // The development IdP: where the gateways look for it, and a registration that accepts
        // both gateways' callbacks with the secret they send.
        let idp = try #require((facts["composeDevIdP"] as? [[String: Any]])?.first)
        let idpPort = try #require(idp["port"] as? String)
        #expect(healthchecks["dev-idp"]?.contains("127.0.0.1:\(idpPort)/") == true)
        let directoryFile = try #require(idp["directoryFile"] as? String)
        let directory = try DevIdPDirectory.load(contentsOf: Self.root.appendingPathComponent(directoryFile).path)
        for config in configs {
            let entra = try #require(config.entra)
            #expect(entra.authority.origin == "http://127.0.0.1:\(idpPort)")
            let client = try #require(directory.clients.first { $0.clientId == entra.clientId }, "no client \(entra.clientId)")
            #expect(client.redirectURIs.contains(config.publicURL.origin + "/.portcullis/callback"), "\(client.redirectURIs)")
            #expect(client.postLogoutRedirectURIs.contains(config.publicURL.origin + "/.portcullis/signed-out"))
            if case .secret(let secret) = entra.credential {
                #expect(client.clientSecret == secret.value, "the gateway's example client secret is not the IdP's")
            } else {
                Issue.record("the compose gateways sign in with a client secret")
            }
        }
    }
}
