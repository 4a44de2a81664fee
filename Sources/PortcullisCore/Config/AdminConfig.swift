/// `admin`: the admin listener, separate from the public one, serving `/metrics` for
/// Prometheus. It listens on loopback by default: metrics describe users, routes and
/// credentials, and never belong on the public listener.
public struct AdminConfig: ConfigSection, Sendable, Equatable {
    public var enabled: Bool
    public var listen: AdminListenConfig

    public static var fields: [ConfigField] { [.value("enabled"), .object("listen", AdminListenConfig.self)] }

    public init(reading reader: ConfigObjectReader) {
        enabled = reader.bool("enabled", default: true)
        listen = reader.section("listen")
    }
}

/// `admin.listen`: where the admin listener accepts connections.
public struct AdminListenConfig: ConfigSection, Sendable, Equatable {
    public var address: String
    public var port: Int

    public static var fields: [ConfigField] { [.value("address"), .value("port")] }

    public init(reading reader: ConfigObjectReader) {
        address = reader.string("address", default: "127.0.0.1")
        port = reader.int("port", default: 9091, in: 0...65535)
        if address.isEmpty { reader.fail("address", "must not be empty") }
    }
}
