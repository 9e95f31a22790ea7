/// Why an `Authorization: Signature …` header or signing string could not be built.
public enum SignatureHeaderError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The header does not follow `Signature name="value",…`.
    case malformed(String)
    /// A required parameter (`keyId`, `algorithm`, `signature`) is absent.
    case missingParameter(String)
    /// The `algorithm` parameter names something not supported (HMAC, DSA, unknown).
    case unsupportedAlgorithm(String)
    /// A header listed in `headers` is not present in the request.
    case missingHeader(String)

    /// A human-readable explanation.
    public var description: String {
        switch self {
        case .malformed(let detail): "malformed Authorization header: \(detail)"
        case .missingParameter(let name): "Authorization header lacks the \(name) parameter"
        case .unsupportedAlgorithm(let name): "unsupported signature algorithm \"\(name)\""
        case .missingHeader(let name): "signed header \"\(name)\" is missing from the request"
        }
    }
}
