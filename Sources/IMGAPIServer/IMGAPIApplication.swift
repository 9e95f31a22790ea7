import Foundation
import HTTPSignature
import Hummingbird
import IMGAPI
import ImageStore
import Logging
import Mirror
import ServiceLifecycle
import HummingbirdCore
import HummingbirdTLS
import NIOCore
import NIOPosix

/// Builds the running server from its configuration: storage opened, housekeeping done.
public enum IMGAPIApplication {
    /// Makes Swift concurrency run its tasks on the server's NIO event loops rather than on a
    /// pool of threads of its own: each request then stays on its connection's thread
    /// instead of crossing to the pool and back, which cut the CPU of a small request by a
    /// third. Safe because no task in the server blocks on I/O: files go through
    /// NIOFileSystem's threads, SQLite through GRDB's queues, signature checks through
    /// `NIOThreadPool`. Call once, first thing in `imgapid serve`.
    public static func runTasksOnEventLoops() {
        _ = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    }

    /// Runs the server until SIGTERM or SIGINT, then drains: no new connections, uploads in
    /// flight discarded, other requests given `shutdownTimeout` seconds to finish before
    /// their connections are closed.
    /// On SIGHUP, `reread` gives the configuration anew (see `ConfigurationReload`).
    public static func run(_ configuration: ServerConfiguration,
                           reread: (@Sendable () throws -> ServerConfiguration)? = nil) async throws {
        let app = try await make(configuration, reread: reread)
        var logger = Logger(label: "imgapid")
        logger.logLevel = .warning
        var group = ServiceGroupConfiguration(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        group.maximumGracefulShutdownDuration = .seconds(configuration.shutdownTimeout)
        try await ServiceGroup(configuration: group).run()
        ServerLog.event("stopped")
        ServerLog.flush()
    }

    /// Opens the repository under `configuration.storage` and returns the HTTP application.
    /// `onListening` receives the bound port (useful with `--port 0`).
    public static func make(
        _ configuration: ServerConfiguration,
        reread: (@Sendable () throws -> ServerConfiguration)? = nil,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) async throws -> some ApplicationProtocol {
        let openFiles = OpenFileLimit.raiseToHardLimit()
        let repository = try ImageRepository(storage: configuration.storage, catalog: configuration.catalog,
                                             shared: try configuration.sharedBlobs(), mode: configuration.mode)
        let collected = try await repository.collectGarbage()
        if collected.uploads + collected.blobs > 0 {
            ServerLog.event("removed leftovers of interrupted work", [
                ("uploads", .number(Double(collected.uploads))), ("blobs", .number(Double(collected.blobs))),
            ])
        }
        if !repository.reserve.isInPlace {
            ServerLog.event("WARNING: no room for the \(DiskReserve.size / 1024 / 1024) MiB disk reserve in the storage directory: if the disk fills up, DeleteImage may fail too; free some space")
        }
        if let channel = configuration.channels.first(where: \.isDefault) {
            let adopted = try await repository.adoptImagesWithoutChannel(into: channel.name)
            if adopted > 0 {
                ServerLog.event("images in no channel joined the default channel", [
                    ("channel", .string(channel.name)), ("images", .number(Double(adopted))),
                ])
            }
        }
        if configuration.auth == .none {
            ServerLog.event("WARNING: --auth none: \(AuthMode.noneMeaning)")
        }
        let cap = OpenFileLimit.connectionCap(configuration.maxConnections, openFiles: openFiles)
        let counts = ConnectionCounts(maxTotal: cap, maxPerAddress: configuration.maxConnectionsPerAddress,
                                      maxRefusing: min(64, cap))
        let metrics = ServerMetrics(connections: counts)
        let keyStore = AuthKeyStore(directory: URL(fileURLWithPath: configuration.storage).appendingPathComponent("authkeys"),
                                    configured: configuration.authKeys)
        let responseCache = ResponseCache(maxBytes: configuration.listingCacheBytes)
        let settings = LiveSettings(configuration, keyStore: keyStore, connections: counts, openFiles: openFiles,
                                    responseCache: responseCache)
        if let reread {
            let reload = ConfigurationReload(settings: settings, started: configuration, reread: reread)
            Hangup.onHangup { reload.reload() }
        }
        let remoteImport = RemoteImport(repository: repository, validateStreams: configuration.validateStreams)
        let endpoints = Endpoints(
            configuration: configuration, repository: repository,
            authenticator: Authenticator(mode: configuration.auth, settings: settings, keyStore: keyStore),
            remoteImport: remoteImport, jobs: ImportJobs(), responseCache: responseCache, metrics: metrics, settings: settings,
            pullThrough: try await pullThroughCache(configuration, remoteImport, metrics))
        var logger = Logger(label: "imgapid")
        logger.logLevel = .warning
        let background: [any Service] = [
            MirrorScheduler(repository: repository, metrics: metrics, settings: settings),
            ScrubScheduler(repository: repository, settings: settings, status: metrics.scrub),
        ] + (repository.blobs.shared == nil ? [] : [SharedStoreCleanup(repository: repository)])
        let responder = IMGAPIResponder(endpoints: endpoints)
        let http1 = HTTPServerBuilder.http1(configuration: .init(additionalChannelHandlers: [
            AccessLogHandler(metrics: metrics), ConnectionGuard(timeouts: settings.timeouts, counts: counts), ContinueHandler(),
            CloseAfterResponseHandler(), WritesBeforeCloseHandler(), MemoryAnswerHandler(responder: responder),
        ]))
        let tls = try configuration.tlsCertificate.map { certificate throws(TLSCredentialsError) in
            try TLSCredentials(certificate: certificate, key: configuration.tlsKey ?? "")
        }
        if let tls { Hangup.onHangup { tls.reload() } }
        return Application(
            responder: responder,
            server: try tls.map { try .tls(http1, tlsConfiguration: $0.configuration) } ?? http1,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
            services: background + metricsListener(configuration.metricsAddress, endpoints: endpoints, settings: settings, logger: logger),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? configuration.port
                ServerLog.event("listening", [
                    ("address", .string(configuration.host)), ("port", .number(Double(port))),
                    ("mode", .string(configuration.mode.rawValue)), ("auth", .string(configuration.auth.rawValue)),
                    ("tls", .bool(tls != nil)),
                    ("storage", .string(configuration.storage)), ("catalog", .string(repository.catalog.location)),
                    ("blobs", configuration.blobs.map { .string($0.description) } ?? .null),
                    ("version", .string(IMGAPIServerVersion.current)),
                    ("max_open_files", .number(Double(openFiles))), ("max_connections", .number(Double(counts.maxTotal))),
                ])
                await onListening(port)
            },
            logger: logger)
    }

    /// The pull-through cache of the config's `upstreams`, logging and counting what it does; nil without upstreams.
    private static func pullThroughCache(_ configuration: ServerConfiguration, _ remote: RemoteImport,
                                         _ metrics: ServerMetrics) async throws -> PullThroughCache? {
        guard !configuration.upstreams.isEmpty else { return nil }
        let kept = URL(fileURLWithPath: configuration.storage).appendingPathComponent("upstreams")
        let catalog = PullThroughCatalog(upstreams: configuration.upstreams, mode: configuration.mode,
                                         channels: configuration.channels, directory: kept) { url, problem in
            metrics.upstreamErrors.increment()
            ServerLog.event("upstream catalog fetch failed", [
                ("level", .string("warning")), ("upstream", .string(url)), ("problem", .string(problem)),
                ("hint", .string("listings keep the last catalog fetched from it (Upstream-Stale header) until a fetch succeeds")),
            ])
        }
        let events = PullThroughCache.Events(
            fetched: { metrics.cacheFetchedBytes.increment(by: $0) },
            filled: { uuid, url in
                ServerLog.event("image cached", [("image_uuid", .string(uuid)), ("upstream", .string(url))])
            },
            failed: { uuid, url, error in
                metrics.upstreamErrors.increment()
                ServerLog.event("cache fill failed", [
                    ("level", .string("error")), ("image_uuid", .string(uuid)), ("upstream", .string(url)),
                    ("problem", .string("\(error)")),
                ])
            },
            evicted: { uuid, bytes in
                ServerLog.event("cached image evicted", [("image_uuid", .string(uuid)), ("bytes", .number(Double(bytes)))])
            })
        let cache = PullThroughCache(catalog: catalog, remote: remote, maxBytes: configuration.cacheMaxBytes, events: events)
        try await cache.load()
        return cache
    }

    /// The listener of its own that serves only `/metrics`, when `metricsAddress` is set.
    private static func metricsListener(_ address: ListenAddress?, endpoints: Endpoints, settings: LiveSettings,
                                        logger: Logger) -> [any Service] {
        guard let address else { return [] }
        let router = Router()
        router.get("/metrics") { _, _ in try await endpoints.metricsExposition() }
        let counts = ConnectionCounts(maxTotal: 64, maxPerAddress: 16, maxRefusing: 16)
        return [Application(
            router: router,
            server: .http1(configuration: .init(additionalChannelHandlers: [ConnectionGuard(timeouts: settings.timeouts, counts: counts)])),
            configuration: .init(address: .hostname(address.host, port: address.port), serverName: nil),
            onServerRunning: { channel in
                ServerLog.event("metrics listening", [
                    ("address", .string(address.host)), ("port", .number(Double(channel.localAddress?.port ?? address.port))),
                ])
            },
            logger: logger)]
    }
}
