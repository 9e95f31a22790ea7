import Foundation
import IMGAPI

/// Signs HTTP requests the way the node IMGAPI client does: `keyId` = user, signature over the `date` header.
public struct RequestSigner: Sendable {
    /// How the `keyId` parameter names the key.
    public enum KeyIdStyle: Sendable {
        /// `keyId="USER"`: the server tries every key of the user (what sdc-imgapi expects).
        case user
        /// `keyId="/USER/keys/MD5-FINGERPRINT"`: the server checks only that key.
        case fingerprint
    }

    /// The user name the requests authenticate as.
    public let user: String
    /// The signing key.
    public let key: SSHPrivateKey
    /// The signature algorithm (the key's default unless chosen).
    public let algorithm: SignatureAlgorithm
    /// How `keyId` is written.
    public let keyIdStyle: KeyIdStyle

    /// Makes a signer; an `algorithm` that does not fit the key type makes `authorization` throw.
    public init(user: String, key: SSHPrivateKey, algorithm: SignatureAlgorithm? = nil, keyIdStyle: KeyIdStyle = .user) {
        self.user = user
        self.key = key
        self.algorithm = algorithm ?? key.defaultSignatureAlgorithm
        self.keyIdStyle = keyIdStyle
    }

    /// The `keyId` parameter value.
    public var keyId: String {
        switch keyIdStyle {
        case .user: user
        case .fingerprint: "/\(user)/keys/\(key.publicKey.md5Fingerprint)"
        }
    }

    /// The `Authorization` header value for a request carrying `Date: date`.
    ///
    /// With no `extraHeaders` and `signRequestTarget` false only `date` is signed and the `headers`
    /// parameter is omitted, exactly as the node client does; otherwise the signed list is
    /// `date`, then `(request-target)` if asked, then the extra headers in the given order
    /// (names are lower-cased; a repeated name, or `date` itself, is skipped).
    public func authorization(
        date: String,
        method: String,
        path: String,
        extraHeaders: [(name: String, value: String)] = [],
        signRequestTarget: Bool = false
    ) throws -> String {
        var values = ["date": date]
        var names = ["date"]
        if signRequestTarget { names.append("(request-target)") }
        for (name, value) in extraHeaders {
            let lowered = name.lowercased()
            guard !names.contains(lowered) else { continue }
            names.append(lowered)
            values[lowered] = value
        }
        let signingString = try SignatureHeader.signingString(headers: names, method: method, path: path) { values[$0] }
        let signature = try key.sign(Array(signingString.utf8), algorithm: algorithm)
        return SignatureHeader(keyId: keyId, algorithm: algorithm, headers: names, signature: signature).headerValue()
    }

    /// Formats a date for the `Date` header: RFC 1123 in GMT, e.g. `Sun, 22 Nov 2026 02:41:35 GMT`.
    public static func httpDate(_ date: Date) -> String {
        HTTPDate.format(date)
    }
}
