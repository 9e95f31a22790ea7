/// Why a signed request was refused; `message` is safe to log (it never holds key or signature material).
public struct AuthFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// The broad cause, for callers and tests that branch on it.
    public enum Reason: String, Sendable {
        case malformedHeader
        case unsupportedAlgorithm
        case dateNotSigned
        case missingHeader
        case invalidDate
        case clockSkew
        case keyLookupFailed
        case unknownKey
        case algorithmMismatch
        case invalidSignature
    }

    /// The broad cause.
    public let reason: Reason
    /// A human-readable explanation.
    public let message: String

    /// Makes a failure with its cause and explanation.
    public init(_ reason: Reason, _ message: String) {
        self.reason = reason
        self.message = message
    }

    /// The explanation.
    public var description: String { message }
}
