/// A loopback port the kernel just handed out, released for a server to take (for configs
/// that must name their port before the listener binds, such as a redirect's target).
public func freeLoopbackPort() throws -> Int {
    try TestPostgresServer.freePort()
}
