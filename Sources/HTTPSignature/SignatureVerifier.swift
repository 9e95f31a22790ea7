import Foundation
import IMGAPI

/// Checks `Authorization: Signature …` headers (Joyent HTTP Signature draft) against users' SSH public keys.
public struct SignatureVerifier: Sendable {
    /// Largest accepted distance, in seconds, between the signed date and now.
    public let clockSkew: TimeInterval

    /// Makes a verifier; `clockSkew` defaults to http-signature's 300 seconds.
    public init(clockSkew: TimeInterval = 300) {
        self.clockSkew = clockSkew
    }

    /// Verifies a request and returns the authenticated user name.
    ///
    /// - Parameters:
    ///   - authorization: the `Authorization` header value.
    ///   - method, path: the request method and path with query, for `(request-target)`.
    ///   - header: the request's header value for a lower-cased name, nil when absent.
    ///   - now: the current time, against which the signed date is checked.
    ///   - keys: the public keys registered for a user name (empty when unknown).
    public func verify(
        authorization: String,
        method: String,
        path: String,
        header: (String) -> String?,
        now: Date,
        keys: (String) throws -> [SSHPublicKey]
    ) -> Result<String, AuthFailure> {
        Result { () throws(AuthFailure) in
            try check(authorization: authorization, method: method, path: path, header: header, now: now, keys: keys)
        }
    }

    private func check(
        authorization: String,
        method: String,
        path: String,
        header: (String) -> String?,
        now: Date,
        keys: (String) throws -> [SSHPublicKey]
    ) throws(AuthFailure) -> String {
        let parsed = try parse(authorization)
        try checkDate(parsed, header: header, now: now)
        let signingString: String
        do {
            signingString = try SignatureHeader.signingString(
                headers: parsed.headers, method: method, path: path, header: header)
        } catch {
            throw AuthFailure(.missingHeader, "\(error)")
        }

        let user = parsed.user
        var candidates: [SSHPublicKey]
        do {
            candidates = try keys(user)
        } catch {
            throw AuthFailure(.keyLookupFailed, "could not look up keys for user \"\(user)\"")
        }
        if let fingerprint = parsed.fingerprint {
            candidates = candidates.filter { $0.matches(fingerprint: fingerprint) }
        }
        guard !candidates.isEmpty else {
            throw AuthFailure(.unknownKey, "no matching key registered for keyId \"\(parsed.keyId)\"")
        }
        candidates = candidates.filter { $0.supports(parsed.algorithm) }
        guard !candidates.isEmpty else {
            throw AuthFailure(
                .algorithmMismatch, "algorithm \(parsed.algorithm.rawValue) does not fit the keys of \"\(user)\"")
        }
        let data = Array(signingString.utf8)
        guard candidates.contains(where: { $0.isValidSignature(parsed.signature, for: data, algorithm: parsed.algorithm) })
        else {
            throw AuthFailure(.invalidSignature, "signature verification failed for keyId \"\(parsed.keyId)\"")
        }
        return user
    }

    private func parse(_ authorization: String) throws(AuthFailure) -> SignatureHeader {
        do {
            return try SignatureHeader(authorization: authorization)
        } catch SignatureHeaderError.unsupportedAlgorithm(let name) {
            throw AuthFailure(.unsupportedAlgorithm, "unsupported signature algorithm \"\(name)\"")
        } catch {
            throw AuthFailure(.malformedHeader, "\(error)")
        }
    }

    /// Requires a signed `date` (or `x-date`) header holding an RFC 1123 date within `clockSkew` of `now`.
    private func checkDate(_ parsed: SignatureHeader, header: (String) -> String?, now: Date) throws(AuthFailure) {
        guard let name = ["date", "x-date"].first(where: parsed.headers.contains) else {
            throw AuthFailure(.dateNotSigned, "the date header must be signed")
        }
        guard let value = header(name) else {
            throw AuthFailure(.missingHeader, "signed header \"\(name)\" is missing from the request")
        }
        guard let date = HTTPDate.parse(value) else {
            throw AuthFailure(.invalidDate, "\(name) header is not an RFC 1123 date")
        }
        let skew = date.timeIntervalSince(now)
        guard abs(skew) <= clockSkew else {
            throw AuthFailure(.clockSkew, "the \(name) header is \(Int(abs(skew))) seconds \(skew < 0 ? "behind" : "ahead of") "
                                          + "the server's clock (at most \(Int(clockSkew)) allowed): set the client's clock")
        }
    }
}
