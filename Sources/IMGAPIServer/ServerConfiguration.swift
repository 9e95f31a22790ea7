import HTTPSignature
import IMGAPI

/// How requests are authenticated (reference config key `authType`).
public enum AuthMode: String, Sendable, CaseIterable {
    /// HTTP Signature with the users' SSH keys; every write must be signed.
    case signature
    /// Nothing is checked. For development only.
    case none
}

/// Everything `imgapid serve` needs to run.
public struct ServerConfiguration: Sendable {
    public var storage: String
    public var host: String
    public var port: Int
    public var mode: ServerMode
    public var auth: AuthMode
    /// Sources allowed to write without a signature (stock `imgadm publish` cannot sign).
    public var trustedNetworks: [TrustedNetwork]
    /// Largest accepted JSON request body (manifests, updates).
    public var maxJSONBodySize: Int
    /// Value of the `Server` header.
    public var serverName: String
    /// Channels (spec §6); none means the server has no channels and ignores `?channel=`.
    public var channels: [Channel] = []
    /// Mirrors run in the background (config key `mirrors`).
    public var mirrors: [ScheduledMirror] = []
    /// Seconds a connection may go without sending anything while the server waits for it: for
    /// a complete request head, between keep-alive requests, or for the next bytes of a body
    /// (config key `idleTimeout`). A transfer that keeps moving has no deadline.
    public var idleTimeout = 60
    /// Most bytes of ListImages answers kept in memory (config key `listingCacheBytes`).
    public var listingCacheBytes = 64 * 1024 * 1024
    /// Users' keys given in the config file (reference key `authKeys`), beside the `.keys` files.
    public var authKeys: [String: [SSHPublicKey]] = [:]

    public init(storage: String = "./storage", host: String = "127.0.0.1", port: Int = 8080,
                mode: ServerMode = .public, auth: AuthMode = .signature, trustedNetworks: [TrustedNetwork] = [],
                maxJSONBodySize: Int = 1024 * 1024) {
        self.storage = storage
        self.host = host
        self.port = port
        self.mode = mode
        self.auth = auth
        self.trustedNetworks = trustedNetworks
        self.maxJSONBodySize = maxJSONBodySize
        self.serverName = "imgapid/\(IMGAPIServerVersion.current)"
    }
}

public enum IMGAPIServerVersion {
    public static let current = "0.1.0"
}
