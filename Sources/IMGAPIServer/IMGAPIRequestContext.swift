import Hummingbird
import NIOCore

/// Per-request state: where the request came from.
public struct IMGAPIRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The peer's address, for `--trust-network` and the request log.
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}
