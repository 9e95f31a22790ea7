import Foundation
import NIOCore
import NIOPosix

/// A TCP relay inside a test, between a client and a real server, for a transfer that must
/// stop at a known point: each connection's answers pass until `limit` bytes have gone
/// through, the rest is held back, and `cut()` closes the connections held so. New
/// connections go to `targetPort`, which a test may point at a restarted server (or at
/// none, with `closeAll()`, for a server that went away).
final class GatedRelay: @unchecked Sendable {
    private var channel: Channel?
    private let lock = NSLock()
    private var target: Int
    private var held: [Channel] = []
    /// Every client connection accepted, for `closeAll`.
    private var accepted: [Channel] = []
    private var gate: Int
    /// Bytes of each connection's answers that pass; `Int.max` lets everything through.
    var limit: Int {
        get { lock.withLock { gate } }
        set { lock.withLock { gate = newValue } }
    }

    var port: Int { channel?.localAddress?.port ?? 0 }
    var baseURL: String { "http://127.0.0.1:\(port)" }
    var targetPort: Int {
        get { lock.withLock { target } }
        set { lock.withLock { target = newValue } }
    }
    /// Connections whose answers reached the limit.
    var heldConnections: Int { lock.withLock { held.count } }

    init(to port: Int, passing limit: Int) throws {
        target = port
        gate = limit
        channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [self] client in
                lock.withLock { accepted.append(client) }
                return ClientBootstrap(group: client.eventLoop)
                    .channelInitializer { server in server.pipeline.addHandler(Answers(relay: self, client: client)) }
                    .connect(host: "127.0.0.1", port: targetPort)
                    .flatMap { server in client.pipeline.addHandler(Requests(server: server)) }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
    }

    /// Closes every connection held at the limit: the client sees its answer break off there.
    func cut() {
        let channels = lock.withLock {
            defer { held = [] }
            return held
        }
        for channel in channels { channel.close(promise: nil) }
    }

    /// Closes every connection, whatever passed through it: the peer on the far side went away.
    func closeAll() {
        let channels = lock.withLock {
            defer { accepted = []; held = [] }
            return accepted
        }
        for channel in channels { channel.close(promise: nil) }
    }

    func stop() {
        cut()
        try? channel?.close().wait()
    }

    private func hold(_ client: Channel) {
        lock.withLock { held.append(client) }
    }

    /// Client to server: everything, as it comes.
    private final class Requests: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        let server: Channel

        init(server: Channel) { self.server = server }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            server.writeAndFlush(unwrapInboundIn(data), promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            server.close(promise: nil)
        }
    }

    /// Server to client: up to the limit, then nothing more.
    private final class Answers: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        let relay: GatedRelay
        let client: Channel
        var passed = 0
        var holding = false

        init(relay: GatedRelay, client: Channel) {
            self.relay = relay
            self.client = client
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard !holding else { return }
            var bytes = unwrapInboundIn(data)
            let limit = relay.limit
            let allowed = limit - passed
            if bytes.readableBytes >= allowed {
                holding = true
                if allowed > 0, let part = bytes.readSlice(length: allowed) { client.writeAndFlush(part, promise: nil) }
                passed = limit
                relay.hold(client)
                return
            }
            passed += bytes.readableBytes
            client.writeAndFlush(bytes, promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            if !holding { client.close(promise: nil) }
        }
    }
}
