import IMGAPI
import ImageStore
import Mirror
import Prometheus
import Synchronization

/// The server's Prometheus metrics (`GET /metrics`): what happens is counted where it
/// happens (requests, uploads, scrubs, mirror runs); what is (images, bytes stored, free
/// space, connections) is read when scraped. Names start with `imgapi_`; docs/operations.md
/// lists them.
final class ServerMetrics: Sendable {
    let registry: PrometheusCollectorRegistry
    private let connections: ConnectionCounts?

    private let requestDurations: [String: DurationHistogram]
    private let responseBytes: [String: Counter]
    /// Requests by route, method and status: a bounded set, made on first use.
    private let requests = Mutex<[RequestKey: Counter]>([:])
    let receivedBytes: Counter
    let uploadsInFlight: Gauge
    let downloadsInFlight: Gauge
    private let openConnections: Gauge
    private let images: [ImageState: Gauge]
    private let storedBytes: Gauge
    private let freeBytes: Gauge
    private let quarantinedFiles: Gauge
    private let logLinesDropped: Counter
    private let logLinesDroppedSeen = Mutex<Int>(0)
    private let publishes: [String: Counter]
    private let mirrorRuns: [String: Counter]
    /// By outcome, made on first use (the outcomes are a fixed set).
    private let mirrorImages = Mutex<[String: Counter]>([:])
    let scrub: ScrubStatus
    /// The pull-through cache: GetImageFile of a cached image, of one only upstream, bytes
    /// fetched, and failed upstream catalog fetches and fills.
    let cacheHits: Counter
    let cacheMisses: Counter
    let cacheFetchedBytes: Counter
    let upstreamErrors: Counter
    /// Reads answered from memory on the event loop (`MemoryAnswerHandler`).
    let memoryAnswers: Counter

    private struct RequestKey: Hashable {
        let route: String
        let method: String
        let status: Int
    }

    /// The labels `route` takes: each IMGAPI path pattern, and `other`.
    static let routes = ["/ping", "/channels", "/images", "/images/:uuid", "/images/:uuid/file", "/images/:uuid/acl",
                         "/images/:uuid/icon", "/jobs/:uuid", "/metrics", "/ready", "/state", "/", "/ui/",
                         "/ui/images/:uuid", "other"]
    static let durationBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(10), .seconds(60), .seconds(600),
    ]

    init(connections: ConnectionCounts?) {
        self.connections = connections
        let registry = PrometheusCollectorRegistry()
        self.registry = registry
        func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(namespace: "imgapi", metricName: metric, unitName: unit, helpText: help)
        }
        let duration = name("http_request_duration", "seconds", "Time from a request's arrival to the end of its response, by route.")
        let sent = name("http_response_body", "bytes_total", "Response body bytes the clients took, by route.")
        requestDurations = Dictionary(uniqueKeysWithValues: Self.routes.map { route in
            (route, registry.makeDurationHistogram(descriptor: duration, labels: [("route", route)], buckets: Self.durationBuckets))
        })
        responseBytes = Dictionary(uniqueKeysWithValues: Self.routes.map { route in
            (route, registry.makeCounter(descriptor: sent, labels: [("route", route)]))
        })
        receivedBytes = registry.makeCounter(descriptor: name("http_request_body", "bytes_total", "Request body bytes received."))
        uploadsInFlight = registry.makeGauge(descriptor: name("uploads_in_flight", "", "Image file uploads (AddImageFile) being received."))
        downloadsInFlight = registry.makeGauge(descriptor: name("downloads_in_flight", "", "Image file downloads being sent."))
        openConnections = registry.makeGauge(descriptor: name("open_connections", "", "Client connections open now."))
        let imageCount = name("images", "", "Images in the catalog, by state.")
        images = Dictionary(uniqueKeysWithValues: ImageState.allCases.map { state in
            (state, registry.makeGauge(descriptor: imageCount, labels: [("state", state.rawValue)]))
        })
        storedBytes = registry.makeGauge(descriptor: name("stored_file", "bytes", "Bytes of the distinct image files in the store."))
        freeBytes = registry.makeGauge(descriptor: name("storage_free", "bytes", "Bytes free for imgapid on the storage file system."))
        quarantinedFiles = registry.makeGauge(descriptor: name("quarantined_files", "", "Stored files quarantined after failing verification."))
        logLinesDropped = registry.makeCounter(descriptor: name("log_lines_dropped", "total", "Log lines dropped because the log output was blocked or failing."))
        let publish = name("publishes", "total", "AddImageFile calls (a publish's upload), by result: ok (stored) or failed.")
        publishes = Dictionary(uniqueKeysWithValues: ["ok", "failed"].map {
            ($0, registry.makeCounter(descriptor: publish, labels: [("result", $0)]))
        })
        let runs = name("mirror_runs", "total", "Scheduled mirror runs, by result: ok, or failed (some image or source failed).")
        mirrorRuns = Dictionary(uniqueKeysWithValues: ["ok", "failed"].map {
            ($0, registry.makeCounter(descriptor: runs, labels: [("result", $0)]))
        })
        scrub = ScrubStatus(registry: registry)
        cacheHits = registry.makeCounter(descriptor: name("cache_hits", "total", "Image file requests the pull-through cache answered from its store."))
        cacheMisses = registry.makeCounter(descriptor: name("cache_misses", "total", "Image file requests for an image only upstream (a fill, or following one)."))
        cacheFetchedBytes = registry.makeCounter(descriptor: name("cache_fetched", "bytes_total", "Bytes the pull-through cache downloaded from its upstreams."))
        upstreamErrors = registry.makeCounter(descriptor: name("upstream_errors", "total", "Failed upstream catalog fetches and file fills of the pull-through cache."))
        memoryAnswers = registry.makeCounter(descriptor: name("memory_answers", "total", "Requests answered from memory on the event loop: /ping, and cached GetImage and ListImages answers."))
        registry.makeGauge(descriptor: name("build_info", "", "Always 1; the label is the imgapid version."),
                           labels: [("version", IMGAPIServerVersion.current)]).set(to: 1)
    }

    /// The route label of a request path.
    static func route(of path: String) -> String {
        Route(path: path)?.metricLabel ?? "other"
    }

    /// Counts a finished (or abandoned) request.
    func requestFinished(route: String, method: String, status: Int, duration: Duration, bytes: Int) {
        let known: String
        switch method {
        case "GET", "HEAD", "POST", "PUT", "DELETE": known = method
        default: known = "other"
        }
        let key = RequestKey(route: route, method: known, status: status)
        let counter = requests.withLock { counters in
            if let counter = counters[key] { return counter }
            let made = registry.makeCounter(
                descriptor: MetricNameDescriptor(namespace: "imgapi", metricName: "http_requests", unitName: "total",
                                                 helpText: "Requests answered, by route, method and status (0: no response)."),
                labels: [("route", route), ("method", known), ("status", String(status))])
            counters[key] = made
            return made
        }
        counter.increment()
        requestDurations[route]?.record(duration)
        if bytes > 0 { responseBytes[route]?.increment(by: Int64(bytes)) }
    }

    /// Counts an AddImageFile that stored its file (`ok`) or refused or lost it (`failed`).
    func published(_ ok: Bool) {
        publishes[ok ? "ok" : "failed"]?.increment()
    }

    /// Counts a scheduled mirror run and what it did to each image.
    func mirrored(_ report: MirrorRun.Report) {
        mirrorRuns[report.succeeded ? "ok" : "failed"]?.increment()
        for outcome in report.outcomes.map(\.result.rawValue) {
            mirrorImages.withLock { counters in
                if counters[outcome] == nil {
                    counters[outcome] = registry.makeCounter(
                        descriptor: MetricNameDescriptor(namespace: "imgapi", subsystem: "mirror", metricName: "images", unitName: "total",
                                                         helpText: "Images scheduled mirror runs handled, by outcome (copied, present, updated, failed, pruned)."),
                        labels: [("outcome", outcome)])
                }
                return counters[outcome]
            }?.increment()
        }
    }

    /// The Prometheus text exposition, with the values read now.
    func exposition(_ repository: ImageRepository) async throws -> [UInt8] {
        let census = try await repository.catalog.census()
        for (state, gauge) in images { gauge.set(Double(census.imagesByState[state.rawValue] ?? 0)) }
        storedBytes.set(Double(census.storedBytes))
        quarantinedFiles.set(Double(census.quarantinedFiles))
        if let free = repository.blobs.freeBytes() { freeBytes.set(Double(free)) }
        if let connections { openConnections.set(Double(connections.open)) }
        let dropped = ServerLog.droppedLines
        let newlyDropped = logLinesDroppedSeen.withLock { seen in
            defer { seen = dropped }
            return dropped - seen
        }
        if newlyDropped > 0 { logLinesDropped.increment(by: Int64(newlyDropped)) }
        return registry.emitToBuffer()
    }
}
