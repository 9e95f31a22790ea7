import HTTPTypes
import IMGAPI
import ImageStore
import NIOCore
import NIOHTTPTypes

/// Guards one connection. It is admitted only under the connection caps (else its first
/// request is answered 503 and the connection closed), and closed when the client stalls:
/// no complete request head within `head` of its first byte, nothing sent for `idle` between
/// requests, no byte of a body the server is waiting for within `bodyStall`, or none of a
/// response taken within `responseStall`. A transfer that keeps moving has no deadline.
/// A stalled body is first raised as `UploadStalled` into the request, so that its handler
/// answers (400, saying how many bytes came); the connection closes after that answer.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    struct Timeouts: Sendable {
        var head: TimeAmount
        var idle: TimeAmount
        var bodyStall: TimeAmount
        var responseStall: TimeAmount
    }

    /// How long a refused connection may take to send the request head its 503 answers.
    static let refusedHeadTimeout = TimeAmount.seconds(5)
    /// How long the answer to a stalled upload may take before the connection is closed anyway.
    static let answerGrace = TimeAmount.seconds(10)

    /// What a deadline is for.
    private enum Expiry {
        /// An idle connection: closed without a log line.
        case idle
        /// A stalled client: closed, and the reason logged.
        case stalled(String)
        /// A request body that stopped: raised into the request for an answer.
        case bodyStalled
    }

    private let timeouts: Timeouts
    private let counts: ConnectionCounts
    private var started = false
    /// How `counts` took the connection, and its client address, until released.
    private var counted: (admission: ConnectionCounts.Admission, address: String)?
    /// Why the connection was not admitted: answered to its first request.
    private var refusal: IMGAPIError?
    private var openedAt = NIODeadline.now()
    private var requestsInProgress = 0
    private var readingBody = false
    /// When the first bytes of a request head arrived, while it is incomplete.
    private var headStartedAt: NIODeadline?
    /// When the last response ended (or the connection opened): the start of idleness.
    private var idleSince = NIODeadline.now()
    /// When the server asked for more bytes and none came yet.
    private var readWantedSince: NIODeadline?
    /// When the connection stopped taking response bytes.
    private var unwritableSince: NIODeadline?
    /// When a stalled body was raised as `UploadStalled`: its answer has `answerGrace` to go out.
    private var bodyStalledAt: NIODeadline?
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?

    init(timeouts: Timeouts, counts: ConnectionCounts) {
        self.timeouts = timeouts
        self.counts = counts
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        stop()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stop()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if let refusal {
            if case .head(let request) = part { refuse(request, with: refusal, context: context) }
            return
        }
        switch part {
        case .head:
            requestsInProgress += 1
            readingBody = true
            headStartedAt = nil
        case .end:
            readingBody = false
        case .body:
            break
        }
        context.fireChannelRead(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        readWantedSince = nil
        if requestsInProgress == 0 && headStartedAt == nil { headStartedAt = .now() }
        arm(context)
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        if readWantedSince == nil {
            readWantedSince = .now()
            arm(context)
        }
        context.read()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            if bodyStalledAt != nil {
                // The stalled upload has its answer; what else the client sends is not a request.
                let written = context.writeAndFlush(data)
                written.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
                written.cascade(to: promise)
                return
            }
            requestsInProgress = max(0, requestsInProgress - 1)
            if requestsInProgress == 0 {
                idleSince = .now()
                arm(context)
            }
        }
        context.write(data, promise: promise)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        unwritableSince = context.channel.isWritable ? nil : .now()
        arm(context)
        context.fireChannelWritabilityChanged()
    }

    private func start(_ context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        openedAt = .now()
        idleSince = openedAt
        let address = context.channel.remoteAddress?.ipAddress ?? "unknown"
        let admission = counts.admit(address)
        counted = (admission, address)
        switch admission {
        case .admitted:
            break
        case .dropped:
            context.close(promise: nil)
            return
        case .serverFull:
            refusal = .serviceUnavailable(
                "the server has reached its limit of \(counts.maxTotal) open connections (maxConnections): try again shortly")
        case .addressFull:
            refusal = .serviceUnavailable(
                "\(address) already has \(counts.maxPerAddress) open connections, the limit per client address (maxConnectionsPerAddress): close or reuse connections and try again")
        }
        arm(context)
    }

    private func stop() {
        timer?.cancel()
        timer = nil
        timerDeadline = nil
        if let (admission, address) = counted {
            counts.release(admission, address: address)
            counted = nil
        }
    }

    /// The earliest deadline the connection is under now, and what it is for.
    private func deadline() -> (NIODeadline, Expiry)? {
        var next: (NIODeadline, Expiry)?
        func consider(_ deadline: NIODeadline, _ expiry: Expiry) {
            if next == nil || deadline < next!.0 { next = (deadline, expiry) }
        }
        if refusal != nil {
            consider(openedAt + min(timeouts.head, Self.refusedHeadTimeout), .stalled("no request head from a refused connection"))
            return next
        }
        if let since = unwritableSince { consider(since + timeouts.responseStall, .stalled("the client took none of the response")) }
        if let since = bodyStalledAt {
            consider(since + Self.answerGrace, .stalled("the request body stopped coming"))
        } else if readingBody, let since = readWantedSince {
            consider(since + timeouts.bodyStall, .bodyStalled)
        }
        if requestsInProgress == 0 {
            if let since = headStartedAt {
                consider(since + timeouts.head, .stalled("the request head did not arrive in time"))
            } else {
                consider(idleSince + timeouts.idle, .idle)
            }
        }
        return next
    }

    /// Schedules the timer for the earliest deadline unless it already fires before that.
    /// Deadlines that move later are found when the timer fires, so reads reschedule nothing.
    private func arm(_ context: ChannelHandlerContext) {
        guard started, let (next, _) = deadline() else { return }
        if let scheduled = timerDeadline, scheduled <= next { return }
        timer?.cancel()
        timerDeadline = next
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: next) { [self] in
            timer = nil
            timerDeadline = nil
            guard let (due, expiry) = deadline() else { return }
            guard due <= .now() else { return arm(context) }
            switch expiry {
            case .idle: context.close(promise: nil)
            case .stalled(let reason): close(context, stalled: reason)
            case .bodyStalled: raiseStalledBody(context)
            }
        }
    }

    private func close(_ context: ChannelHandlerContext, stalled reason: String) {
        ServerLog.event("closed a stalled connection", [
            ("reason", .string(reason)), ("remote", .string(context.channel.remoteAddress?.ipAddress ?? "unknown")),
        ])
        context.close(promise: nil)
    }

    /// Ends the request body with `UploadStalled`: the handler answers, then the connection closes.
    private func raiseStalledBody(_ context: ChannelHandlerContext) {
        ServerLog.event("stopped waiting for a request body", [
            ("reason", .string("no byte for \(timeouts.bodyStall.nanoseconds / 1_000_000_000) seconds")),
            ("remote", .string(context.channel.remoteAddress?.ipAddress ?? "unknown")),
        ])
        bodyStalledAt = .now()
        readingBody = false
        arm(context)
        context.fireErrorCaught(UploadStalled(seconds: timeouts.bodyStall.nanoseconds / 1_000_000_000))
    }

    /// Answers the first request of a connection over the caps, then closes it. The answer
    /// passes `AccessLogHandler` (nearer the socket), which logs it like any other.
    private func refuse(_ request: HTTPRequest, with error: IMGAPIError, context: ChannelHandlerContext) {
        let body = ByteBuffer(string: error.body.prettyPrinted())
        var head = HTTPResponse(status: .init(code: error.status))
        head.headerFields[.contentType] = "application/json"
        head.headerFields[.contentLength] = String(body.readableBytes)
        head.headerFields[.connection] = "close"
        head.headerFields[.retryAfter] = "5"
        head.headerFields[.logError] = error.description
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if request.method != .head { context.write(wrapOutboundOut(.body(body)), promise: nil) }
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}
