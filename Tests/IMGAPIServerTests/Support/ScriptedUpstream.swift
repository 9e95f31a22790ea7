import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// A small real HTTP server inside a test, for upstream faults a real IMGAPI server does
/// not produce: files that do not match their manifest, bodies cut short, 5xx answers.
final class ScriptedUpstream: @unchecked Sendable {
    enum Reply: Sendable {
        case json(status: Int, String)
        case bytes([UInt8])
        /// Announces `declared` bytes, sends `bytes`, then closes the connection.
        case truncated(declared: Int, [UInt8])
        /// Reads no more of the request (its body stays unread) and never answers: a peer that hangs.
        case stopReading
    }

    private var channel: Channel?
    private let lock = NSLock()
    private var requestLog: [String] = []
    var port: Int { channel?.localAddress?.port ?? 0 }
    var baseURL: String { "http://127.0.0.1:\(port)" }
    /// `METHOD URI` of every request received, in order.
    var requests: [String] { lock.withLock { requestLog } }

    init(_ reply: @escaping @Sendable (_ method: String, _ uri: String) -> Reply) throws {
        let log: @Sendable (String) -> Void = { [lock] line in lock.withLock { self.requestLog.append(line) } }
        channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(Responder(reply: reply, log: log))
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
    }

    func stop() {
        try? channel?.close().wait()
    }

    private final class Responder: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let reply: @Sendable (String, String) -> Reply
        let log: @Sendable (String) -> Void
        var pending: Reply?

        init(reply: @escaping @Sendable (String, String) -> Reply, log: @escaping @Sendable (String) -> Void) {
            self.reply = reply
            self.log = log
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                log("\(head.method.rawValue) \(head.uri)")
                let reply = reply(head.method.rawValue, head.uri)
                pending = reply
                if case .stopReading = reply { context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in } }
            case .body: break
            case .end:
                guard let reply = pending else { return }
                pending = nil
                respond(context, reply)
            }
        }

        private func respond(_ context: ChannelHandlerContext, _ reply: Reply) {
            var headers = HTTPHeaders()
            let status: Int
            let body: [UInt8]
            var closeAfter = false
            switch reply {
            case .json(let code, let text):
                status = code
                body = Array(text.utf8)
                headers.add(name: "Content-Type", value: "application/json")
                headers.add(name: "Content-Length", value: String(body.count))
            case .bytes(let bytes):
                status = 200
                body = bytes
                headers.add(name: "Content-Type", value: "application/octet-stream")
                headers.add(name: "Content-Length", value: String(bytes.count))
            case .truncated(let declared, let bytes):
                status = 200
                body = bytes
                closeAfter = true
                headers.add(name: "Content-Type", value: "application/octet-stream")
                headers.add(name: "Content-Length", value: String(declared))
            case .stopReading:
                return
            }
            let head = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: status), headers: headers)
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
            if closeAfter {
                context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(ByteBuffer()))), promise: nil)
                context.close(promise: nil)
            } else {
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }
}
