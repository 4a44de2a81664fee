import Foundation

/// A throwaway PostgreSQL server for live tests: `initdb` into a fresh temporary directory, a
/// server on a free loopback port, all of it removed by ``stop()``. It uses the Debian server
/// binaries (`apt-get install postgresql`, which `.ci/run` does), never a server already
/// running on the machine, so tests cannot touch real data.
///
/// PostgreSQL refuses to run as root; as root (here and in CI) the server runs as the
/// `postgres` OS user the Debian package creates.
///
/// The methods block while a program runs (well under a second for most, `initdb` about one):
/// from async tests use the `async` overloads, which wait on a dispatch thread instead of one
/// of the few cooperative-pool threads.
public final class TestPostgresServer: @unchecked Sendable {
    /// The superuser `initdb` creates; authentication is `trust`, so any password is accepted.
    public static let superuser = "portcullis"

    public let port: Int
    /// The temporary directory: data, log, unix socket.
    public let directory: URL
    private let binaries: String
    private let lock = NSLock()
    private var removed = false
    /// The running server (through `runuser` when root). Kept as our child, not detached
    /// with `pg_ctl start`: Foundation never reported the exit of a `pg_ctl` that left a
    /// detached server running (it inherits the descriptor Foundation watches, it seems).
    private var server: Child?

    /// A child process and the signal of Foundation reporting its exit. A `Process` must
    /// outlive that report (freeing it earlier can crash when the report arrives), so one
    /// whose report does not come is parked in ``unreported`` for good.
    private struct Child {
        let process = Process()
        let exited = DispatchSemaphore(value: 0)

        init() { process.terminationHandler = { [exited] _ in exited.signal() } }

        /// Whether the exit was reported within `seconds`; if not, the process is parked.
        func waitForExit(seconds: Double) -> Bool {
            if exited.wait(timeout: .now() + seconds) == .success { return true }
            TestPostgresServer.unreportedLock.withLock { TestPostgresServer.unreported.append(process) }
            return false
        }
    }

    private static let unreportedLock = NSLock()
    nonisolated(unsafe) private static var unreported: [Process] = []

    /// Servers not stopped yet, stopped when the test process exits: a test that fails
    /// outside ``with(_:)`` may never stop its server, and a server outlives its test process.
    private static let runningLock = NSLock()
    nonisolated(unsafe) private static var running: [ObjectIdentifier: TestPostgresServer] = [:]
    private static let stopAtExit: Void = { atexit { TestPostgresServer.stopAll() } }()

    private static func stopAll() {
        let servers = runningLock.withLock { running.values }
        servers.forEach { $0.stop() }
    }

    /// `postgres://portcullis@127.0.0.1:PORT/postgres`.
    public var url: String { url(database: "postgres") }

    public func url(database: String, password: String? = nil) -> String {
        "postgres://\(Self.superuser)\(password.map { ":" + $0 } ?? "")@127.0.0.1:\(port)/\(database)"
    }

    // MARK: Availability

    /// The directory holding `initdb`, `postgres`, `pg_isready` and `psql`, or why there is none.
    public static let availability: Result<String, Failure> = findBinaries()

    /// Nil when a server can be started here, else why not.
    public static var unavailableReason: String? {
        if case .failure(let failure) = availability { return failure.message }
        return nil
    }

    /// Whether live PostgreSQL tests run: when the server binaries are here, and always under
    /// `CI=true`, where a missing server must fail the run instead of hiding behind a skip.
    public static var testsEnabled: Bool {
        unavailableReason == nil || ProcessInfo.processInfo.environment["CI"] == "true"
    }

    private static func findBinaries() -> Result<String, Failure> {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted(by: >)
        guard let bin = versions.map({ "\(root)/\($0)/bin" }).first(where: { bin in
            ["initdb", "postgres", "pg_isready", "psql"].allSatisfy { FileManager.default.isExecutableFile(atPath: "\(bin)/\($0)") }
        }) else {
            return .failure(Failure("PostgreSQL server binaries not found in \(root)/*/bin (install the Debian package postgresql)"))
        }
        if getuid() == 0 {
            guard getpwnam("postgres") != nil else {
                return .failure(Failure("running as root, but there is no postgres OS user to run the server as"))
            }
            guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/runuser") else {
                return .failure(Failure("running as root, but /usr/sbin/runuser is missing"))
            }
        }
        return .success(bin)
    }

    // MARK: Lifecycle

    /// Creates a cluster and starts the server; waits until it accepts connections.
    public static func start() throws -> TestPostgresServer {
        let binaries = try availability.get()
        reapLeftovers()
        let directory = URL(fileURLWithPath: parentDirectory).appendingPathComponent(directoryPrefix + UUID().uuidString.prefix(8))
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try Data(String(getpid()).utf8).write(to: directory.appendingPathComponent("owner.pid"))
        let server = TestPostgresServer(port: try freePort(), directory: directory, binaries: binaries)
        _ = Self.stopAtExit
        runningLock.withLock { running[ObjectIdentifier(server)] = server }
        do {
            try server.initialise()
            try server.startServer()
            return server
        } catch {
            server.stop()
            throw error
        }
    }

    public static func start() async throws -> TestPostgresServer {
        try await offPool { try start() }
    }

    /// Starts a server, runs `body` with it and stops it whether `body` returns or throws:
    /// the stop (which can wait seconds for a fast shutdown) is awaited on a dispatch thread.
    public static func with<T>(_ body: (TestPostgresServer) async throws -> T) async throws -> T {
        try await scoped(try await start(), stop: { server in try? await offPool { server.stop() } }, body)
    }

    private init(port: Int, directory: URL, binaries: String) {
        self.port = port
        self.directory = directory
        self.binaries = binaries
    }

    deinit { stop() }

    private var dataDirectory: String { directory.appendingPathComponent("data").path }
    private var logFile: String { directory.appendingPathComponent("server.log").path }

    private func initialise() throws {
        if getuid() == 0, let user = getpwnam("postgres") {
            guard chown(directory.path, user.pointee.pw_uid, user.pointee.pw_gid) == 0 else {
                throw Failure("cannot hand \(directory.path) to the postgres user (errno \(errno))")
            }
        }
        try run(serverProgram("initdb"), ["-D", dataDirectory, "-U", Self.superuser, "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions"], as: .server)
        // In the configuration file, not on the command line: a restart keeps the same port.
        let settings = """

            port = \(port)
            listen_addresses = '127.0.0.1'
            unix_socket_directories = '\(directory.path)'
            fsync = off
            synchronous_commit = off
            full_page_writes = off
            max_connections = 200

            """
        let configuration = try FileHandle(forWritingTo: URL(fileURLWithPath: dataDirectory + "/postgresql.conf"))
        defer { try? configuration.close() }
        try configuration.seekToEnd()
        try configuration.write(contentsOf: Data(settings.utf8))
    }

    /// Starts the server (again), on the same port with the same data, and waits until it
    /// accepts connections.
    public func startServer() throws {
        do {
            if !FileManager.default.fileExists(atPath: logFile) { _ = FileManager.default.createFile(atPath: logFile, contents: nil) }
            guard let log = FileHandle(forWritingAtPath: logFile) else { throw Failure("cannot open \(logFile)") }
            try log.seekToEnd()
            let child = Child()
            configure(child.process, serverProgram("postgres"), ["-D", dataDirectory], as: .server)
            child.process.standardOutput = log
            child.process.standardError = log
            child.process.standardInput = FileHandle.nullDevice
            try child.process.run()
            try? log.close()
            lock.withLock { server = child }
            try waitUntilReady(child.process, timeout: 30)
        } catch {
            throw Failure("PostgreSQL did not start on port \(port): \(error)\n--- server log (tail) ---\n\(logTail())")
        }
    }

    public func startServer() async throws {
        try await Self.offPool { try self.startServer() }
    }

    /// Takes the database away, keeping its data: a fast shutdown, which closes every
    /// client connection (what a database restart looks like to clients).
    public func stopServer() throws {
        let child = lock.withLock { () -> Child? in
            defer { server = nil }
            return server
        }
        if let pid = postmasterPID() {
            guard Self.signalAndWait(pid, SIGINT, seconds: 10) || Self.signalAndWait(pid, SIGQUIT, seconds: 5) || Self.signalAndWait(pid, SIGKILL, seconds: 5) else {
                throw Failure("PostgreSQL (pid \(pid)) did not stop")
            }
        } else if let child, Self.isAlive(child.process.processIdentifier) {
            kill(child.process.processIdentifier, SIGTERM)
        }
        _ = child?.waitForExit(seconds: 5)
    }

    public func stopServer() async throws {
        try await Self.offPool { try self.stopServer() }
    }

    /// Freezes every server process (SIGSTOP): connections stay open but nothing answers,
    /// like a stalled host or a silent network.
    public func pause() {
        serverProcesses().forEach { kill($0, SIGSTOP) }
    }

    public func resume() {
        serverProcesses().forEach { kill($0, SIGCONT) }
    }

    /// Stops the server and removes its directory. Synchronous, so it can run in a `defer`;
    /// idempotent.
    public func stop() {
        let first = lock.withLock {
            defer { removed = true }
            return !removed
        }
        guard first else { return }
        _ = Self.runningLock.withLock { Self.running.removeValue(forKey: ObjectIdentifier(self)) }
        resume()
        try? stopServer()
        try? FileManager.default.removeItem(at: directory)
    }

    // MARK: Using it

    /// Creates a database; returns its URL.
    @discardableResult
    public func createDatabase(_ name: String) throws -> String {
        try psql("CREATE DATABASE \"\(name)\"")
        return url(database: name)
    }

    /// Runs SQL with `psql` (unaligned, tuples only); returns its output.
    @discardableResult
    public func psql(_ sql: String, database: String = "postgres") throws -> String {
        let arguments = ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", String(port), "-U", Self.superuser, "-d", database, "-c", sql]
        return try run(serverProgram("psql"), arguments, as: .caller).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @discardableResult
    public func createDatabase(_ name: String) async throws -> String {
        try await Self.offPool { try self.createDatabase(name) }
    }

    @discardableResult
    public func psql(_ sql: String, database: String = "postgres") async throws -> String {
        try await Self.offPool { try self.psql(sql, database: database) }
    }

    /// The end of the server's log, for failure messages.
    public func logTail(lines: Int = 30) -> String {
        guard let text = try? String(contentsOfFile: logFile, encoding: .utf8) else { return "(no server log)" }
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var message: String
        init(_ message: String) { self.message = message }
        public var description: String { message }
    }

    // MARK: Processes

    private enum RunAs { case server, caller }

    private func serverProgram(_ name: String) -> String { "\(binaries)/\(name)" }

    /// Runs a program to completion; returns its output, or throws with it. Output goes to a
    /// file, so a child that keeps a pipe open cannot block us; the wait is a semaphore
    /// signalled by the termination handler (`waitUntilExit` busy-waits off the main thread).
    @discardableResult
    private func run(_ program: String, _ arguments: [String], as user: RunAs, timeout: TimeInterval = 60) throws -> String {
        let child = Child()
        let process = child.process
        configure(process, program, arguments, as: user)
        let outputPath = directory.appendingPathComponent("command-\(UUID().uuidString.prefix(8)).out").path
        guard FileManager.default.createFile(atPath: outputPath, contents: nil), let output = FileHandle(forWritingAtPath: outputPath) else {
            throw Failure("cannot create \(outputPath)")
        }
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        try? output.close()
        if child.exited.wait(timeout: .now() + timeout) == .timedOut {
            kill(process.processIdentifier, SIGKILL)
            _ = child.waitForExit(seconds: 5)
            throw Failure("\((program as NSString).lastPathComponent) did not finish within \(Int(timeout)) s")
        }
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        guard process.terminationStatus == 0 else {
            throw Failure("\((program as NSString).lastPathComponent) exited with status \(process.terminationStatus): \(text.suffix(2000))")
        }
        return text
    }

    private func configure(_ process: Process, _ program: String, _ arguments: [String], as user: RunAs) {
        if user == .server, getuid() == 0 {
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/runuser")
            process.arguments = ["-u", "postgres", "--", program] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: program)
            process.arguments = arguments
        }
    }

    private func postmasterPID() -> pid_t? { Self.livePID(in: dataDirectory + "/postmaster.pid") }

    /// The first line of `file` as a pid, if that process lives.
    private static func livePID(in file: String) -> pid_t? {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8),
            let line = text.split(separator: "\n").first, let pid = pid_t(line.trimmingCharacters(in: .whitespaces)), isAlive(pid)
        else { return nil }
        return pid
    }

    private static let directoryPrefix = "portcullis-pg-"
    /// As root, `/tmp`: the `postgres` user must be able to reach the directory, and root's
    /// `TMPDIR` may be private.
    private static var parentDirectory: String { getuid() == 0 ? "/tmp" : NSTemporaryDirectory() }

    /// Stops the servers of test processes that died without ``stop()`` (a crash, a kill)
    /// and removes their directories, so crashed runs do not pile up servers. Only
    /// directories whose recorded owner is gone: a concurrent test run keeps its servers.
    private static func reapLeftovers() {
        let temporary = parentDirectory
        for name in (try? FileManager.default.contentsOfDirectory(atPath: temporary)) ?? [] where name.hasPrefix(directoryPrefix) {
            let directory = (temporary as NSString).appendingPathComponent(name)
            let owner = (directory as NSString).appendingPathComponent("owner.pid")
            guard FileManager.default.fileExists(atPath: owner), livePID(in: owner) == nil else { continue }
            // The pid may have been reused since: only a postgres serving this directory.
            if let pid = livePID(in: directory + "/data/postmaster.pid"),
                let command = try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8), command.contains(directory) {
                _ = signalAndWait(pid, SIGINT, seconds: 10) || signalAndWait(pid, SIGKILL, seconds: 5)
            }
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    /// The postmaster and its children (backends, checkpointer, ...).
    private func serverProcesses() -> [pid_t] {
        guard let postmaster = postmasterPID() else { return [] }
        let pids = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { pid_t($0) }
        return [postmaster] + pids.filter { Self.processStat($0)?.parent == postmaster }
    }

    private static func signalAndWait(_ pid: pid_t, _ signal: Int32, seconds: Double) -> Bool {
        kill(pid, signal)
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if !isAlive(pid) { return true }
            usleep(20_000)
        }
        return !isAlive(pid)
    }

    /// The server is not our child (pg_ctl detaches it), so init reaps it, perhaps late: a
    /// zombie counts as gone.
    private static func isAlive(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        return Self.processStat(pid).map { $0.state != "Z" } ?? false
    }

    private static func processStat(_ pid: pid_t) -> (state: Character, parent: pid_t)? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        // After "pid (comm)": state, then parent pid.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 1, let state = fields[0].first, let parent = pid_t(fields[1]) else { return nil }
        return (state, parent)
    }

    /// Polls `pg_isready` (a TCP connect alone succeeds while the server still refuses
    /// sessions during startup); gives up early if the server exits.
    private func waitUntilReady(_ process: Process, timeout: TimeInterval) throws {
        let deadline = Date().addingTimeInterval(timeout)
        let probe = ["-q", "-h", "127.0.0.1", "-p", String(port), "-U", Self.superuser, "-d", "postgres", "-t", "1"]
        while Date() < deadline {
            if (try? run(serverProgram("pg_isready"), probe, as: .caller, timeout: 5)) != nil { return }
            guard Self.isAlive(process.processIdentifier) else { throw Failure("the server exited") }
            usleep(50_000)
        }
        throw Failure("not accepting connections on 127.0.0.1:\(port) after \(Int(timeout)) s")
    }

    /// A port the kernel just handed out on loopback, released for the server to take.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure("socket() failed (errno \(errno))") }
        defer { close(fd) }
        var address = loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw Failure("bind() failed (errno \(errno))") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw Failure("getsockname() failed (errno \(errno))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    /// Runs blocking work on a dispatch thread, not a cooperative-pool one.
    private static func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
        }
    }
}
