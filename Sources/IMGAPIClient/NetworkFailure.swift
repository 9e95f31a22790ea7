import AsyncHTTPClient
import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// Why a connection to another server failed, in the words an operator reads at a glance
/// ("connection refused", "the name did not resolve") rather than the library's dump.
public enum NetworkFailure {
    public static func cause(_ error: any Error) -> String {
        switch error {
        case let io as IOError:
            return String(cString: strerror(io.errnoCode)).lowercased()
        case let connection as NIOConnectionError:
            if let first = connection.connectionErrors.first { return cause(first.error) }
            return "the name \(connection.host) did not resolve"
        case let http as HTTPClientError:
            switch http {
            case .connectTimeout, .getConnectionFromPoolTimeout: return "the connection timed out"
            case .tlsHandshakeTimeout: return "the TLS handshake timed out"
            case .readTimeout: return "the server stopped answering"
            case .deadlineExceeded: return "the request took longer than its deadline"
            case .remoteConnectionClosed: return "the server closed the connection"
            default: return String(describing: http)
            }
        case ChannelError.connectTimeout:
            return "the connection timed out"
        default:
            return String(describing: error)
        }
    }
}
