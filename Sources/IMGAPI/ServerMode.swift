/// How the repository treats image visibility (reference config key `mode`).
public enum ServerMode: String, Sendable, CaseIterable {
    /// Every image is public (`images.smartos.org`); `billing_tags` and `traits` are hidden.
    case `public`
    /// Every image is private (`public: false`), served to whoever can reach the server.
    case `private`

    /// The `public` value every image must have in this mode.
    public var imagesArePublic: Bool { self == .public }
}
