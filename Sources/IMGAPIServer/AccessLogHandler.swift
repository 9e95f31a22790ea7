import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Writes each request's line in the access log once its response has been written out or
/// abandoned, with the body bytes the socket took and whether the response completed. It
/// works on the connection, below Hummingbird, so that in-memory answers keep their single
/// batched write. It sits nearest the socket, so it also logs `ConnectionGuard`'s refusals.
/// The responder (or the guard) passes a failure's description in the response header
/// `imgapid-log-error`, which this handler removes before the head goes out. The same
/// moments feed the request metrics (`ServerMetrics`).
final class AccessLogHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// A request read, waiting for its response head.
    private struct Request {
        let method: String
        let url: String
        let started: ContinuousClock.Instant
        /// Its `route` label in the metrics.
        let route: String
        /// An image file upload, counted in flight until its response ends.
        let isUpload: Bool
    }

    /// A response being written; logged and counted once, when it ends or the connection does.
    private final class Line {
        private let entry: RequestLog.Entry
        private let request: Request
        private let metrics: ServerMetrics
        /// A file download, counted in flight until it ends.
        private let isDownload: Bool
        private var bytes = 0
        private var logged = false

        init(_ entry: RequestLog.Entry, _ request: Request, metrics: ServerMetrics) {
            self.entry = entry
            self.request = request
            self.metrics = metrics
            isDownload = request.method == "GET" && request.route == "/images/:uuid/file" && entry.status < 300
            if isDownload { metrics.downloadsInFlight.increment() }
        }

        func add(_ count: Int) { bytes += count }

        func finish(complete: Bool) {
            guard !logged else { return }
            logged = true
            RequestLog.write(entry, bytes: bytes, complete: complete)
            AccessLogHandler.count(request, status: entry.status, bytes: bytes, metrics: metrics)
            if isDownload { metrics.downloadsInFlight.decrement() }
        }
    }

    private let metrics: ServerMetrics

    init(metrics: ServerMetrics) {
        self.metrics = metrics
    }

    private static func count(_ request: Request, status: Int, bytes: Int, metrics: ServerMetrics) {
        metrics.requestFinished(route: request.route, method: request.method, status: status,
                                duration: request.started.duration(to: .now), bytes: bytes)
        if request.isUpload { metrics.uploadsInFlight.decrement() }
    }

    /// Requests in arrival order; HTTP/1.1 answers them in the same order.
    private var waiting: [Request] = []
    private var current: Line?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            let url = head.path ?? ""
            let route = ServerMetrics.route(of: String(url.prefix { $0 != "?" }))
            let request = Request(method: head.method.rawValue, url: url, started: .now, route: route,
                                  isUpload: head.method == .put && route == "/images/:uuid/file")
            if request.isUpload { metrics.uploadsInFlight.increment() }
            waiting.append(request)
        case .body(let buffer):
            metrics.receivedBytes.increment(by: Int64(buffer.readableBytes))
        case .end:
            break
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var head) where head.status.code >= 200 && !waiting.isEmpty:
            let request = waiting.removeFirst()
            let error = head.headerFields[.logError]
            head.headerFields[.logError] = nil
            current = Line(RequestLog.Entry(
                requestID: head.headerFields[.xRequestID] ?? "-", method: request.method, url: request.url,
                status: head.status.code, started: request.started,
                remote: context.channel.remoteAddress?.ipAddress, error: error), request, metrics: metrics)
            context.write(wrapOutboundOut(.head(head)), promise: promise)
        case .body(let buffer):
            guard let line = current else { return context.write(data, promise: promise) }
            let count = buffer.readableBytes
            let written = promise ?? context.eventLoop.makePromise()
            written.futureResult.assumeIsolated().whenSuccess { line.add(count) }
            context.write(data, promise: written)
        case .end:
            guard let line = current else { return context.write(data, promise: promise) }
            current = nil
            let written = promise ?? context.eventLoop.makePromise()
            written.futureResult.assumeIsolated().whenComplete { result in
                line.finish(complete: (try? result.get()) != nil)
            }
            context.write(data, promise: written)
        default:
            context.write(data, promise: promise)
        }
    }

    /// A response cut off by the connection's end is logged as incomplete, and a request
    /// that got no response at all with status 0.
    func channelInactive(context: ChannelHandlerContext) {
        current?.finish(complete: false)
        current = nil
        for request in waiting {
            RequestLog.write(.init(requestID: "-", method: request.method, url: request.url, status: 0,
                                   started: request.started, remote: context.channel.remoteAddress?.ipAddress,
                                   error: "the connection ended before a response was written"),
                             bytes: 0, complete: false)
            Self.count(request, status: 0, bytes: 0, metrics: metrics)
        }
        waiting.removeAll()
        context.fireChannelInactive()
    }
}

extension HTTPField.Name {
    /// From the responder to `AccessLogHandler` only: never sent.
    static let logError = HTTPField.Name("imgapid-log-error")!
}
