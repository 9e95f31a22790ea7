import Foundation
import HTTPSignature
import XCTest

extension ServerProcess {
    /// A client signing as `user` with a new key, registered with `imgapid keys add` as an
    /// operator would (the running server sees it at once).
    func signedClient(user: String = "admin", kind: SSHKeyKind = .ed25519) throws -> TestClient {
        let key = try SSHPrivateKey.generate(kind)
        let file = storage.appendingPathComponent("\(user)-\(UUID().uuidString).pub")
        try (key.publicKey.openSSHLine + "\n").write(to: file, atomically: true, encoding: .utf8)
        let added = try ServerProcess.run(["keys", "add", "--storage", storage.path, user, file.path])
        guard added.status == 0 else { throw TestFailure("keys add failed: \(added.output)") }
        return TestClient(self, signer: RequestSigner(user: user, key: key))
    }
}
