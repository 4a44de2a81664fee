import Foundation

/// Writes a file the way an administrator's edit must land: all or nothing (a temporary file
/// in the same folder, flushed, then renamed over the old one), with the old file's mode or
/// `mode` for a new one, so a crash or a full disk never leaves a half-written users file or
/// config behind for the gateway to load.
enum AtomicFile {
    static func write(_ data: Data, to path: String, mode: Int = 0o600) throws {
        let url = URL(fileURLWithPath: path)
        let existingMode = (try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(getpid()).tmp")
        let fd = open(temporary.path, O_WRONLY | O_CREAT | O_TRUNC | O_EXCL, mode_t(existingMode ?? mode))
        guard fd >= 0 else { throw CLIError("cannot create \(temporary.path): \(String(cString: strerror(errno)))") }
        var ok = data.withUnsafeBytes { raw -> Bool in
            var offset = 0
            while offset < raw.count {
                let written = Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if written <= 0 { return false }
                offset += written
            }
            return true
        }
        ok = ok && fsync(fd) == 0
        close(fd)
        guard ok, rename(temporary.path, url.path) == 0 else {
            unlink(temporary.path)
            throw CLIError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }
}

/// A command-line failure with a message for the administrator.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Who ran an administrative command, for the audit line: the OS user.
enum OperatingSystemUser {
    static var name: String {
        if let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name { return String(cString: name) }
        return ProcessInfo.processInfo.environment["USER"] ?? "uid \(geteuid())"
    }
}

/// Passwords come from a prompt without echo, or from standard input when it is not a
/// terminal; never from the command line, where `ps` and shell history would show them.
enum PasswordInput {
    static func read(confirm: Bool) throws -> String {
        guard isatty(0) == 1 else {
            guard let line = readLine(strippingNewline: true), !line.isEmpty else { throw CLIError("no password on standard input") }
            return line
        }
        let first = try prompt("Password: ")
        if confirm {
            guard try prompt("Again: ") == first else { throw CLIError("the passwords differ") }
        }
        guard !first.isEmpty else { throw CLIError("the password is empty") }
        return first
    }

    private static func prompt(_ text: String) throws -> String {
        FileHandle.standardError.write(Data(text.utf8))
        var saved = termios()
        tcgetattr(0, &saved)
        var quiet = saved
        quiet.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(0, TCSANOW, &quiet)
        defer {
            tcsetattr(0, TCSANOW, &saved)
            FileHandle.standardError.write(Data("\n".utf8))
        }
        guard let line = readLine(strippingNewline: true) else { throw CLIError("no password given") }
        return line
    }
}
