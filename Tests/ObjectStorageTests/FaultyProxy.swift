import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// A small real HTTP server inside a test, in front of the S3 peer, for a fault the peer does
/// not produce: requests that `fails` picks are answered `500 InternalError` (once each);
/// every other request is passed on as it came (its signature still holds: the `Host` is kept).
final class FaultyProxy: @unchecked Sendable {
    private var channel: Channel?
    private let lock = NSLock()
    private var log: [String] = []
    var port: Int { channel?.localAddress?.port ?? 0 }
    /// `METHOD URI STATUS` of every request, in order.
    var requests: [String] { lock.withLock { log } }

    init(to target: String, fails: @escaping @Sendable (_ method: String, _ uri: String) -> Bool) throws {
        let record: @Sendable (String) -> Void = { [lock] line in lock.withLock { self.log.append(line) } }
        channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(Forwarder(target: target, fails: fails, record: record))
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
    }

    func stop() {
        try? channel?.close().wait()
    }

    private final class Forwarder: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let target: String
        let fails: @Sendable (String, String) -> Bool
        let record: @Sendable (String) -> Void
        var head: HTTPRequestHead?
        var body = ByteBuffer()

        init(target: String, fails: @escaping @Sendable (String, String) -> Bool, record: @escaping @Sendable (String) -> Void) {
            self.target = target
            self.fails = fails
            self.record = record
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head): self.head = head; body.clear()
            case .body(var chunk): body.writeBuffer(&chunk)
            case .end:
                guard let head else { return }
                let channel = context.channel
                let request = (head, body)
                if fails(head.method.rawValue, head.uri) {
                    record("\(head.method.rawValue) \(head.uri) 500")
                    let xml = "<Error><Code>InternalError</Code><Message>injected by the test</Message></Error>"
                    respond(channel, status: .internalServerError, headers: [("Content-Type", "application/xml")], body: ByteBuffer(string: xml))
                    return
                }
                Task { [target, record] in
                    var forwarded = HTTPClientRequest(url: target + request.0.uri)
                    forwarded.method = request.0.method
                    for (name, value) in request.0.headers where name.lowercased() != "content-length" {
                        forwarded.headers.add(name: name, value: value)
                    }
                    if request.1.readableBytes > 0 || request.0.method == .PUT || request.0.method == .POST {
                        forwarded.body = .bytes(request.1)
                    }
                    do {
                        let response = try await HTTPClient.shared.execute(forwarded, timeout: .seconds(60))
                        let bytes = try await response.body.collect(upTo: 64 * 1024 * 1024)
                        record("\(request.0.method.rawValue) \(request.0.uri) \(response.status.code)")
                        self.respond(channel, status: response.status, headers: response.headers.map { ($0.name, $0.value) }
                            .filter { $0.0.lowercased() != "content-length" && $0.0.lowercased() != "transfer-encoding" }, body: bytes)
                    } catch {
                        self.respond(channel, status: .badGateway, headers: [], body: ByteBuffer(string: "\(error)"))
                    }
                }
            }
        }

        private func respond(_ channel: Channel, status: HTTPResponseStatus, headers: [(String, String)], body: ByteBuffer) {
            var fields = HTTPHeaders(headers)
            fields.replaceOrAdd(name: "Content-Length", value: String(body.readableBytes))
            channel.eventLoop.execute {
                channel.write(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: status, headers: fields)), promise: nil)
                channel.write(HTTPServerResponsePart.body(.byteBuffer(body)), promise: nil)
                channel.writeAndFlush(HTTPServerResponsePart.end(nil), promise: nil)
            }
        }
    }
}
