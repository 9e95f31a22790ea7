import Foundation
import HTTPSignature
import HTTPTypes
import Hummingbird
import IMGAPI
import NIOCore
import NIOPosix

/// Who sent a request, as established once per request.
struct Caller: Sendable {
    /// The user proven by HTTP Signature; nil for an unsigned request.
    var user: String?
    /// The owner uuid the user's keys are bound to; nil for an operator or nobody.
    var owner: String?

    static let anonymous = Caller()
}

/// Decides who a request comes from: a user proven by HTTP Signature (an operator, or one
/// bound to an owner), a trusted network, or nobody. A signature is good for one request:
/// one seen before is refused on a write (`SignatureReplays`).
struct Authenticator: Sendable {
    let mode: AuthMode
    let settings: LiveSettings
    let keyStore: AuthKeyStore
    let verifier = SignatureVerifier()
    let replays: SignatureReplays

    init(mode: AuthMode, settings: LiveSettings, keyStore: AuthKeyStore) {
        self.mode = mode
        self.settings = settings
        self.keyStore = keyStore
        replays = SignatureReplays(clockSkew: verifier.clockSkew)
    }

    /// Verifies the request's signature, if it has one: no `Authorization` means anonymous,
    /// but a bad one is refused, and so is a write whose signature was used before.
    func caller(of request: Request) async throws -> Caller {
        guard !isAnonymous(request), let authorization = request.headers[.authorization] else { return .anonymous }
        let keyStore = self.keyStore, verifier = self.verifier
        // Key files are read from disk: keep that off the request's executor.
        let verified: Result<(user: String, owner: String?), AuthFailure> = try await NIOThreadPool.singleton.runIfActive {
            let result = verifier.verify(
                authorization: authorization, method: request.method.rawValue, path: request.uri.string,
                // HTTP/1's Host header is the request's authority once parsed.
                header: { name in name == "host" ? request.head.authority : HTTPField.Name(name).flatMap { request.headers[$0] } },
                now: Date(),
                keys: { user in try keyStore.keys(for: user) })
            guard case .success(let user) = result else { return result.map { (user: $0, owner: nil) } }
            return .success((user: user, owner: try keyStore.owner(of: user)))
        }
        let user: String, owner: String?
        switch verified {
        case .success(let identity): (user, owner) = identity
        case .failure(let failure): throw IMGAPIError.unauthorized("Unauthorized: \(failure.message)")
        }
        if let header = try? SignatureHeader(authorization: authorization),
           !replays.firstUse(keyId: header.keyId, signature: header.signature), Self.isWrite(request.method) {
            throw IMGAPIError.unauthorized(
                "Unauthorized: this signature was already used (a replay): sign every write anew; a client that signs "
                    + "only the Date header can make one signed write per second, so sign (request-target) too")
        }
        return Caller(user: user, owner: owner)
    }

    /// Whether the request's caller is anonymous without a signature to check.
    func isAnonymous(_ request: Request) -> Bool {
        mode != .signature || request.headers[.authorization] == nil
    }

    static func isWrite(_ method: HTTPRequest.Method) -> Bool {
        method != .get && method != .head
    }

    /// Whether the call comes from inside a trusted network.
    func isTrusted(_ call: Call) -> Bool {
        guard let address = call.remote else { return false }
        return settings.trustedNetworks.contains { $0.contains(address) }
    }

    /// Strict check (writes): a signed caller, or a source inside a trusted network.
    func authorizeWrite(_ call: Call) throws {
        guard mode == .signature, call.caller.user == nil else { return }
        if isTrusted(call) { return }
        throw IMGAPIError.unauthorized(
            "Unauthorized: this write needs an HTTP Signature from a key the server knows (imgapid keys add), "
                + "or a client address in a trusted network (--trust-network), where stock imgadm publish works unsigned")
    }
}
