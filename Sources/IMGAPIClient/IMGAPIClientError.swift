import IMGAPI

/// Why a call to another IMGAPI server failed.
public enum IMGAPIClientError: Error, CustomStringConvertible, Sendable {
    case invalidURL(String)
    /// No answer: connection refused, timeout, reset.
    case unreachable(String, String)
    /// An answer that is not an IMGAPI's (no JSON, no `imgapi: true` on ping).
    case notIMGAPI(String, String)
    /// An HTTP error status, with the IMGAPI error body when there was one.
    case server(status: Int, url: String, body: JSONValue?)

    public var description: String {
        switch self {
        case .invalidURL(let url): return "\(url) is not an http or https URL"
        case .unreachable(let url, let why): return "\(url) could not be reached: \(why)"
        case .notIMGAPI(let url, let why): return "\(url) is not an IMGAPI server: \(why)"
        case .server(let status, let url, let body):
            let object = body?.objectValue
            let code = object?["code"]?.stringValue ?? "HTTP \(status)"
            let message = object?["message"]?.stringValue.map { ": \($0)" } ?? ""
            return "\(url): \(code)\(message)"
        }
    }

    /// The IMGAPI error `code` of a server error.
    public var code: String? {
        if case .server(_, _, let body) = self { return body?.objectValue?["code"]?.stringValue }
        return nil
    }

    /// A status worth retrying later: network trouble and 5xx.
    public var isTransient: Bool {
        switch self {
        case .unreachable: return true
        case .server(let status, _, _): return status >= 500 || status == 429
        default: return false
        }
    }
}
