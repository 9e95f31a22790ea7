import HTTPSignature
import IMGAPI
import Synchronization

/// The configuration in force while the server runs: as it started, with the keys that
/// SIGHUP may change (`liveKeys`) taken from the config file read anew, and `readOnly` also
/// switched by `POST /state`. The other keys stay as they were at start.
final class LiveSettings: Sendable {
    typealias Key = ServerConfiguration.FileKey

    /// Keys that take effect without a restart: access, limits, schedules.
    static let liveKeys: Set<Key> = [
        .readOnly, .trustedNetworks, .authKeys, .headTimeout, .idleTimeout, .bodyStallTimeout, .responseStallTimeout,
        .maxConnections, .maxConnectionsPerAddress, .maxJSONBodySize, .listingCacheBytes, .readyMinFreeMB, .verifyOnSend,
        .mirrors, .scrubInterval, .scrubRate,
    ]

    private let current: Mutex<ServerConfiguration>
    let keyStore: AuthKeyStore
    private let connections: ConnectionCounts
    private let openFiles: Int
    private let responseCache: ResponseCache

    init(_ configuration: ServerConfiguration, keyStore: AuthKeyStore, connections: ConnectionCounts, openFiles: Int,
         responseCache: ResponseCache) {
        current = Mutex(configuration)
        self.keyStore = keyStore
        self.connections = connections
        self.openFiles = openFiles
        self.responseCache = responseCache
    }

    /// The configuration in force now.
    var configuration: ServerConfiguration { current.withLock { $0 } }

    var readOnly: Bool {
        get { current.withLock { $0.readOnly } }
        set { current.withLock { $0.readOnly = newValue } }
    }

    var trustedNetworks: [TrustedNetwork] { current.withLock { $0.trustedNetworks } }

    /// The connection timeouts new connections get.
    var timeouts: ConnectionGuard.Timeouts {
        current.withLock { configuration in
            ConnectionGuard.Timeouts(
                head: .seconds(Int64(configuration.headTimeout)), idle: .seconds(Int64(configuration.idleTimeout)),
                bodyStall: .seconds(Int64(configuration.bodyStallTimeout)),
                responseStall: .seconds(Int64(configuration.responseStallTimeout)))
        }
    }

    /// Takes the live keys of a configuration read anew. Returns the keys that changed and
    /// took effect, and those that changed but wait for a restart (compared with `started`).
    func apply(_ new: ServerConfiguration, started: ServerConfiguration) -> (changed: [String], needsRestart: [String]) {
        let old = configuration
        current.withLock { configuration in
            configuration.readOnly = new.readOnly
            configuration.trustedNetworks = new.trustedNetworks
            configuration.authKeys = new.authKeys
            configuration.headTimeout = new.headTimeout
            configuration.idleTimeout = new.idleTimeout
            configuration.bodyStallTimeout = new.bodyStallTimeout
            configuration.responseStallTimeout = new.responseStallTimeout
            configuration.maxConnections = new.maxConnections
            configuration.maxConnectionsPerAddress = new.maxConnectionsPerAddress
            configuration.maxJSONBodySize = new.maxJSONBodySize
            configuration.listingCacheBytes = new.listingCacheBytes
            configuration.readyMinFreeMB = new.readyMinFreeMB
            configuration.verifyOnSend = new.verifyOnSend
            configuration.mirrors = new.mirrors
            configuration.scrubInterval = new.scrubInterval
            configuration.scrubRate = new.scrubRate
        }
        keyStore.replaceConfigured(new.authKeys)
        connections.setCaps(total: OpenFileLimit.connectionCap(new.maxConnections, openFiles: openFiles),
                            perAddress: new.maxConnectionsPerAddress)
        responseCache.setMaxBytes(new.listingCacheBytes)
        let live = Set(Self.liveKeys.map(\.rawValue))
        return (Self.differing(old, new).filter(live.contains), Self.differing(started, new).filter { !live.contains($0) })
    }

    /// The config keys whose values differ, as the config file writes them.
    private static func differing(_ a: ServerConfiguration, _ b: ServerConfiguration) -> [String] {
        let before = a.fileJSON.objectValue ?? JSONObject(), after = b.fileJSON.objectValue ?? JSONObject()
        return Set(before.keys).union(after.keys).filter { before[$0] != after[$0] }.sorted()
    }
}

/// SIGHUP's reading of the config file: its live settings are taken at once; a file that
/// does not parse is refused and the settings in force stay. Changes to other keys are
/// named in the log as waiting for a restart.
final class ConfigurationReload: Sendable {
    private let settings: LiveSettings
    private let reread: @Sendable () throws -> ServerConfiguration
    /// As the process started: what the keys read only at start are compared with.
    private let started: ServerConfiguration

    init(settings: LiveSettings, started: ServerConfiguration, reread: @escaping @Sendable () throws -> ServerConfiguration) {
        self.settings = settings
        self.started = started
        self.reread = reread
    }

    func reload() {
        let new: ServerConfiguration
        do { new = try reread() } catch {
            ServerLog.event("config not reloaded: the settings in force stay", [
                ("level", .string("error")), ("error", .string("\(error)")),
            ])
            return
        }
        let (changed, waiting) = settings.apply(new, started: started)
        var fields: [(String, JSONValue)] = [("changed", .array(changed.map(JSONValue.string)))]
        if !waiting.isEmpty { fields.append(("needs_restart", .array(waiting.map(JSONValue.string)))) }
        ServerLog.event("config reloaded", fields)
    }
}
