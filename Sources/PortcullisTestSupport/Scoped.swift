/// Runs `body` with `resource` (a started server, gateway, IdP, database...), then awaits
/// `stop(resource)` whether `body` returned or threw; an error is rethrown after the stop.
///
/// The scoped form of start/stop for live tests, in the style of Hummingbird's
/// `app.test(.live) { client in ... }`: nothing a test started outlives it, and no teardown
/// races the next test (an unawaited `defer { Task { await x.stop() } }` may run late or not
/// at all on a loaded machine).
public func scoped<Resource, Result>(
    _ resource: Resource, stop: (Resource) async -> Void, _ body: (Resource) async throws -> Result
) async throws -> Result {
    let result: Result
    do {
        result = try await body(resource)
    } catch {
        await stop(resource)
        throw error
    }
    await stop(resource)
    return result
}
