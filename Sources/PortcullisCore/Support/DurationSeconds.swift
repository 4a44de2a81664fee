extension Duration {
    /// The duration as seconds, for metrics that record seconds.
    public var inSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
