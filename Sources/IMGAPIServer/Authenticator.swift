import Foundation
import HTTPSignature
import HTTPTypes
import Hummingbird
import IMGAPI
import NIOCore
import NIOPosix

/// Decides who a request comes from: a user proven by HTTP Signature, a trusted network, or nobody.
struct Authenticator: Sendable {
    let mode: AuthMode
    let trustedNetworks: [TrustedNetwork]
    let keyStore: AuthKeyStore
    let verifier = SignatureVerifier()

    /// Passive check (reads): no `Authorization` means anonymous, but a bad one is refused.
    /// Returns the signed-in user, if any.
    func user(of request: Request) async throws -> String? {
        guard mode == .signature, let authorization = request.headers[.authorization] else { return nil }
        let keyStore = self.keyStore, verifier = self.verifier
        // Key files are read from disk: keep that off the request's executor.
        let result = try await NIOThreadPool.singleton.runIfActive {
            verifier.verify(
                authorization: authorization, method: request.method.rawValue, path: request.uri.string,
                header: { name in HTTPField.Name(name).flatMap { request.headers[$0] } },
                now: Date(),
                keys: { user in try keyStore.keys(for: user) })
        }
        switch result {
        case .success(let user): return user
        case .failure(let failure): throw IMGAPIError.unauthorized("Unauthorized: \(failure.message)")
        }
    }

    /// Strict check (writes): a valid signature, or a source inside a trusted network.
    func authorizeWrite(_ request: Request, from address: SocketAddress?) async throws {
        guard mode == .signature else { return }
        if try await user(of: request) != nil { return }
        if let address, trustedNetworks.contains(where: { $0.contains(address) }) { return }
        throw IMGAPIError.unauthorized(
            "Unauthorized: this write needs an HTTP Signature from a key the server knows (imgapid keys add), "
                + "or a client address in a trusted network (--trust-network), where stock imgadm publish works unsigned")
    }
}
