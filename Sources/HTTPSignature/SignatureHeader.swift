import Foundation

/// The parameters of an `Authorization: Signature keyId="…",algorithm="…",[headers="…",]signature="…"` header.
public struct SignatureHeader: Sendable, Equatable {
    /// The `keyId` parameter: a user name, or `/USER/keys/FINGERPRINT`.
    public var keyId: String
    /// The `algorithm` parameter.
    public var algorithm: SignatureAlgorithm
    /// The lower-cased names of the signed headers, in signing order (default `["date"]`).
    public var headers: [String]
    /// The decoded `signature` parameter.
    public var signature: [UInt8]

    /// The header list assumed when the `headers` parameter is absent.
    public static let defaultHeaders = ["date"]

    /// Builds a header from its parts.
    public init(keyId: String, algorithm: SignatureAlgorithm, headers: [String] = defaultHeaders, signature: [UInt8]) {
        self.keyId = keyId
        self.algorithm = algorithm
        self.headers = headers.map { $0.lowercased() }
        self.signature = signature
    }

    /// Parses an `Authorization` header value; the scheme word is case-insensitive and parameters may come in any order.
    public init(authorization: String) throws {
        let params = try SignatureParameterParser.parse(authorization)
        guard let keyId = params["keyid"], !keyId.isEmpty else { throw SignatureHeaderError.missingParameter("keyId") }
        guard let algorithmName = params["algorithm"] else { throw SignatureHeaderError.missingParameter("algorithm") }
        guard let algorithm = SignatureAlgorithm(name: algorithmName) else {
            throw SignatureHeaderError.unsupportedAlgorithm(algorithmName)
        }
        guard let encoded = params["signature"] else { throw SignatureHeaderError.missingParameter("signature") }
        guard let signature = Data(base64Encoded: encoded), !signature.isEmpty else {
            throw SignatureHeaderError.malformed("signature is not valid base64")
        }
        let headers = params["headers"].map { $0.split(whereSeparator: \.isWhitespace).map(String.init) }
        self.init(keyId: keyId, algorithm: algorithm, headers: headers ?? Self.defaultHeaders, signature: [UInt8](signature))
    }

    /// The user named by `keyId`: the whole value, or `USER` in `/USER/keys/FINGERPRINT`.
    public var user: String {
        keyIdParts?.user ?? keyId
    }

    /// The key fingerprint in a `/USER/keys/FINGERPRINT` keyId (MD5 hex-colon or `SHA256:…`), else nil.
    public var fingerprint: String? {
        keyIdParts?.fingerprint
    }

    private var keyIdParts: (user: String, fingerprint: String)? {
        // A SHA256 fingerprint is base64 and may itself contain "/".
        let parts = keyId.split(separator: "/", maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0].isEmpty, parts[2] == "keys", !parts[1].isEmpty, !parts[3].isEmpty else {
            return nil
        }
        return (String(parts[1]), String(parts[3]))
    }

    /// The header value, e.g. `Signature keyId="admin",algorithm="rsa-sha256",signature="…"`;
    /// `headers` is written only when it differs from the default `date`, as the node client does.
    public func headerValue() -> String {
        var value = "Signature keyId=\"\(keyId)\",algorithm=\"\(algorithm.rawValue)\""
        if headers != Self.defaultHeaders {
            value += ",headers=\"\(headers.joined(separator: " "))\""
        }
        return value + ",signature=\"\(Data(signature).base64EncodedString())\""
    }

    /// The string that is signed: one `name: value` line per listed header, joined by `\n`.
    ///
    /// `(request-target)` stands for `lower-cased-method path?query`. A listed header that `header`
    /// cannot supply throws `SignatureHeaderError.missingHeader`.
    public static func signingString(
        headers: [String], method: String, path: String, header: (String) -> String?
    ) throws -> String {
        try headers.map { rawName in
            let name = rawName.lowercased()
            if name == "(request-target)" {
                return "\(name): \(method.lowercased()) \(path)"
            }
            guard let value = header(name) else { throw SignatureHeaderError.missingHeader(name) }
            return "\(name): \(value)"
        }.joined(separator: "\n")
    }
}
