import NIOCore
import NIOHTTPTypes

/// Holds back a close that comes right after a response's last write until the writes
/// before it have reached the socket. Hummingbird closes a connection as soon as it writes
/// the end of a response when it is shutting down (SIGTERM) or told to close, and NIO drops
/// the writes still pending at a close: a slow client's download would be cut short, with
/// no error on either side. It sits next to Hummingbird's connection handler, behind the
/// connection guard, whose own closes (stalled clients, timeouts) are not held back.
final class WritesBeforeCloseHandler: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// The latest response's end: NIO completes writes in order, so once it is written,
    /// everything before it is.
    private var lastWrite: EventLoopFuture<Void>?

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .end = unwrapOutboundIn(data) else { return context.write(data, promise: promise) }
        let written = promise ?? context.eventLoop.makePromise()
        lastWrite = written.futureResult
        context.write(data, promise: written)
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        guard mode == .all, let lastWrite else { return context.close(mode: mode, promise: promise) }
        self.lastWrite = nil
        context.flush()
        lastWrite.assumeIsolated().whenComplete { _ in context.close(mode: mode, promise: promise) }
    }
}
