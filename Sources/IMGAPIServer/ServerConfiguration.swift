import Foundation
import HTTPSignature
import IMGAPI
import ImageStore
import Mirror
import ObjectStorage

/// How requests are authenticated (reference config key `authType`).
public enum AuthMode: String, Sendable, CaseIterable {
    /// HTTP Signature with the users' SSH keys; every write must be signed.
    case signature
    /// See `noneMeaning`.
    case none

    /// What `none` allows, in the words `--help`, the README and the log use.
    public static let noneMeaning = "no signature is checked (Authorization headers are ignored): any client may publish, change and delete images, and reads are answered as to an unsigned client. For development only"
}

/// Everything `imgapid serve` needs to run.
public struct ServerConfiguration: Sendable {
    public var storage: String
    /// A PostgreSQL catalog shared by replicas (config key `catalog`); nil: `catalog.sqlite` in `storage`.
    public var catalog: PostgresLocation?
    /// S3-compatible object storage holding the shared copy of every file (config key
    /// `blobs`); nil: files only in `storage`.
    public var blobs: S3Location?
    /// An AWS shared credentials file for `blobs` (`blobsCredentialsFile`, profile default);
    /// nil: `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` from the environment.
    public var blobsCredentialsFile: String?
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
    /// Seconds from the first byte of a request head to its end (config key `headTimeout`).
    public var headTimeout = 30
    /// Seconds a connection may stay open with no request (config key `idleTimeout`).
    public var idleTimeout = 60
    /// Seconds an upload may send nothing while the server waits for it (`bodyStallTimeout`).
    public var bodyStallTimeout = 120
    /// Seconds a client may take none of a response (`responseStallTimeout`). A transfer that
    /// keeps moving has no deadline.
    public var responseStallTimeout = 120
    /// Most connections open at once (`maxConnections`); more are answered 503. Lowered at
    /// start to what the open-file limit allows.
    public var maxConnections = 2000
    /// Most connections open at once from one client address (`maxConnectionsPerAddress`).
    public var maxConnectionsPerAddress = 100
    /// Whether a whole-file download is hashed as it is sent and cut short when its bytes on
    /// disk no longer match the catalog (`verifyOnSend`).
    public var verifyOnSend = true
    /// Whether files of ZFS image types are decompressed and checked as ZFS send streams
    /// when they arrive (`validateStreams`).
    public var validateStreams = true
    /// Seconds between background scrubs of every stored file, the first at start; 0 turns
    /// them off (`scrubInterval`).
    public var scrubInterval = 7 * 86_400
    /// Most MB per second a background scrub reads (`scrubRate`).
    public var scrubRate = 50
    /// Reads are served, every write answers 503 (`readOnly`; also switched at run time by
    /// SIGHUP or `POST /state`).
    public var readOnly = false
    /// Seconds SIGTERM (or SIGINT) waits for requests in flight before closing their
    /// connections (`shutdownTimeout`); uploads in flight are discarded at once.
    public var shutdownTimeout = 30
    /// PEM certificate chain and private key: serve HTTPS instead of HTTP (`tlsCert`, `tlsKey`;
    /// both or neither), reloaded on SIGHUP.
    public var tlsCertificate: String?
    public var tlsKey: String?
    /// Where `/metrics` is served instead of the main listener (`metricsAddress`, HOST:PORT).
    public var metricsAddress: ListenAddress?
    /// `/ready` answers 503 when the storage has fewer MB free (`readyMinFreeMB`).
    public var readyMinFreeMB = 1024
    /// File the log goes to instead of standard output, reopened on SIGHUP (`logFile`).
    public var logFile: String?
    /// Most bytes of ListImages and GetImage answers kept in memory (config key `listingCacheBytes`).
    public var listingCacheBytes = 64 * 1024 * 1024
    /// Servers whose images are offered and fetched on demand (`upstreams`): the pull-through cache.
    public var upstreams: [PullThroughUpstream] = []
    /// Most bytes of files the pull-through cache keeps (`cacheMaxBytes`); 0: no limit.
    public var cacheMaxBytes: Int64 = 20 * 1024 * 1024 * 1024
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

extension ServerConfiguration {
    /// The shared store `blobs` names, with its credentials; nil when there is none.
    public func sharedBlobs(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> SharedBlobs? {
        guard let blobs else { return nil }
        let credentials: S3Credentials
        if let file = blobsCredentialsFile {
            credentials = try S3Credentials.fromFile(file)
        } else if let fromEnvironment = S3Credentials.fromEnvironment(environment) {
            credentials = fromEnvironment
        } else {
            throw ConfigurationError(key: FileKey.blobs.rawValue, problem: "no credentials for \(blobs): set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or blobsCredentialsFile")
        }
        return SharedBlobs(client: S3Client(location: blobs, credentials: credentials))
    }
}

public enum IMGAPIServerVersion {
    public static let current = "0.1.0"
}
