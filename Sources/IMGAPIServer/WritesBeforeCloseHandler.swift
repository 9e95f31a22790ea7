import NIOCore

/// Holds back a close that comes right after a response's last write until the writes
/// before it have reached the socket. Hummingbird closes a connection as soon as it writes
/// the end of a response when it is shutting down (SIGTERM) or told to close, and NIO drops
/// the writes still pending at a close: a slow client's download would be cut short, with
/// no error on either side. It sits next to Hummingbird's connection handler, behind the
/// connection guard, whose own closes (stalled clients, timeouts) are not held back.
final class WritesBeforeCloseHandler: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = NIOAny

    private var pending = 0
    private var heldClose: (mode: CloseMode, promise: EventLoopPromise<Void>?)?

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        pending += 1
        let written = promise ?? context.eventLoop.makePromise()
        written.futureResult.assumeIsolated().whenComplete { _ in
            self.pending -= 1
            self.closeIfHeld(context)
        }
        context.write(data, promise: written)
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        guard mode == .all, pending > 0 else { return context.close(mode: mode, promise: promise) }
        if let held = heldClose, let promise { held.promise?.futureResult.cascade(to: promise) }
        if heldClose == nil { heldClose = (mode, promise) }
        context.flush()
    }

    private func closeIfHeld(_ context: ChannelHandlerContext) {
        guard pending == 0, let held = heldClose else { return }
        heldClose = nil
        context.close(mode: held.mode, promise: held.promise)
    }
}
