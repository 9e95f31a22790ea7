import Foundation
import HTTPSignature
import IMGAPI
import XCTest

/// HTTP Signature auth, trusted networks and `imgapid keys`, against the real server.
final class AuthTests: XCTestCase {
    var server: ServerProcess!

    override func tearDown() async throws {
        server?.stop()
    }

    func startServer(_ arguments: [String] = []) throws -> ServerProcess {
        let server = try ServerProcess(arguments)
        try server.start()
        self.server = server
        return server
    }

    /// Registers `key` for `user` with the CLI, as an operator would, while the server runs.
    func addKey(_ key: SSHPrivateKey, user: String) throws {
        let file = server.storage.appendingPathComponent("\(user)-\(UUID().uuidString).pub")
        try (key.publicKey.openSSHLine + "\n").write(to: file, atomically: true, encoding: .utf8)
        let result = try ServerProcess.run(["keys", "add", "--storage", server.storage.path, user, file.path])
        XCTAssertEqual(result.status, 0, result.output)
    }

    func testUnsignedWritesAreRefusedAndSignedOnesAccepted() async throws {
        let server = try startServer()
        let anonymous = TestClient(server)
        let uuid = "dddddddd-0000-4000-8000-000000000001"
        let refused = try await anonymous.postJSON("/images/\(uuid)?action=import", Fixture.manifest(uuid: uuid))
        XCTAssertEqual(refused.status, 401)
        XCTAssertEqual(refused.errorCode, "UnauthorizedError")
        // The refusal says why and what to do; it said only "Unauthorized".
        let message = try XCTUnwrap(refused.object()["message"]?.stringValue)
        XCTAssertTrue(message.hasPrefix("Unauthorized: ") && message.contains("--trust-network")
                      && message.contains("imgapid keys add"), message)
        let refusedFile = try await anonymous.putFile(uuid, [1, 2, 3], query: "compression=none")
        XCTAssertEqual(refusedFile.status, 401)
        expect(try await anonymous.request(.DELETE, "/images/\(uuid)"), status: 401)

        // Keys added while the server runs are used at once; every key type signs.
        for (index, kind) in [SSHKeyKind.ed25519, .ecdsaP256, .rsa(bits: 2048)].enumerated() {
            let key = try SSHPrivateKey.generate(kind)
            try addKey(key, user: "builder\(index)")
            let signed = TestClient(server, signer: RequestSigner(user: "builder\(index)", key: key))
            let imageUUID = "dddddddd-0000-4000-8000-00000000001\(index)"
            expect(try await signed.postJSON("/images/\(imageUUID)?action=import", Fixture.manifest(uuid: imageUUID)), status: 200)
            let ping = try await signed.get("/ping").object()
            XCTAssertEqual(ping["user"], .string("builder\(index)"), "\(kind)")
            XCTAssertNotNil(ping["pid"])
        }
        let anonymousPing = try await anonymous.get("/ping").object()
        XCTAssertNil(anonymousPing["pid"], "pid only for signed-in callers")
    }

    /// A refused signature says why: an unknown key, a clock off by how much. It said only
    /// "Unauthorized", and the operator had to guess.
    func testRefusedSignaturesSayWhy() async throws {
        let server = try startServer()
        let key = try SSHPrivateKey.generate(.ed25519)
        try addKey(key, user: "admin")
        let uuid = "dddddddd-0000-4000-8000-000000000030"
        for (user, why) in [("admin", "signature verification failed for keyId"), ("nobody", "no matching key registered for keyId")] {
            let stranger = TestClient(server, signer: RequestSigner(user: user, key: try SSHPrivateKey.generate(.ed25519)))
            let refused = try await stranger.postJSON("/images/\(uuid)?action=import", Fixture.manifest(uuid: uuid))
            XCTAssertEqual(refused.status, 401)
            XCTAssertTrue(refused.text.contains(why), refused.text)
        }

        var late = TestClient(server, signer: RequestSigner(user: "admin", key: key))
        late.date = Date().addingTimeInterval(-1200)
        let skewed = try await late.postJSON("/images/\(uuid)?action=import", Fixture.manifest(uuid: uuid))
        XCTAssertEqual(skewed.status, 401)
        let message = try XCTUnwrap(skewed.object()["message"]?.stringValue)
        XCTAssertTrue(message.contains("seconds behind the server's clock"), message)
        let seconds = try XCTUnwrap(message.range(of: "header is ").flatMap { Int(message[$0.upperBound...].prefix { $0.isNumber }) })
        XCTAssertTrue((1195...1260).contains(seconds), message)
    }

    func testSignedInReadersSeeInactiveImagesAnonymousDoNot() async throws {
        let server = try startServer()
        let key = try SSHPrivateKey.generate(.ed25519)
        try addKey(key, user: "admin")
        let admin = TestClient(server, signer: RequestSigner(user: "admin", key: key))
        let uuid = "dddddddd-0000-4000-8000-000000000020"
        expect(try await admin.postJSON("/images/\(uuid)?action=import", Fixture.manifest(uuid: uuid)), status: 200)

        let mine = try await admin.get("/images?state=all").json().arrayValue ?? []
        XCTAssertEqual(mine.count, 1)
        let anonymous = TestClient(server)
        for state in ["all", "unactivated"] {
            let listed = try await anonymous.get("/images?state=\(state)")
            XCTAssertEqual(listed.text, "[]", state)
        }
        let adminFields = try await anonymous.get("/images?inclAdminFields=true")
        XCTAssertEqual(adminFields.status, 401)
        // GetImage has no active-only rule (reference behaviour): a known uuid is readable.
        expect(try await anonymous.get("/images/\(uuid)"), status: 200)
    }

    func testBadSignaturesAreRefusedEvenOnReads() async throws {
        let server = try startServer()
        let key = try SSHPrivateKey.generate(.ed25519)
        try addKey(key, user: "admin")
        let stranger = try SSHPrivateKey.generate(.ed25519)

        let wrongKey = TestClient(server, signer: RequestSigner(user: "admin", key: stranger))
        expect(try await wrongKey.get("/images"), status: 401)
        let unknownUser = TestClient(server, signer: RequestSigner(user: "nobody", key: key))
        expect(try await unknownUser.get("/ping"), status: 401)
        let hostileUser = TestClient(server, signer: RequestSigner(user: "../../etc/passwd", key: key))
        expect(try await hostileUser.get("/ping"), status: 401)
        var stale = TestClient(server, signer: RequestSigner(user: "admin", key: key))
        stale.date = Date().addingTimeInterval(-600)
        expect(try await stale.get("/images"), status: 401)
        let garbage = try await TestClient(server).get("/images", headers: [("Authorization", "Signature garbage")])
        XCTAssertEqual(garbage.status, 401)
        XCTAssertEqual(garbage.errorCode, "UnauthorizedError")

        let byFingerprint = TestClient(server, signer: RequestSigner(user: "admin", key: key, keyIdStyle: .fingerprint))
        expect(try await byFingerprint.get("/images?state=all"), status: 200)

        // Removing the key takes effect without a restart.
        let removed = try ServerProcess.run(["keys", "remove", "--storage", server.storage.path, "admin"])
        XCTAssertEqual(removed.status, 0, removed.output)
        expect(try await TestClient(server, signer: RequestSigner(user: "admin", key: key)).get("/images"), status: 401)
    }

    func testTrustedNetworkMayWriteUnsigned() async throws {
        let trusted = try startServer(["--trust-network", "127.0.0.0/8"])
        let uuid = "dddddddd-0000-4000-8000-000000000030"
        expect(try await TestClient(trusted).postJSON("/images/\(uuid)?action=import", Fixture.manifest(uuid: uuid)), status: 200)
        trusted.stop()

        let elsewhere = try startServer(["--trust-network", "10.0.0.0/8", "--trust-network", "fd00::/8"])
        expect(try await TestClient(elsewhere).postJSON("/images/\(uuid)?action=import", Fixture.manifest(uuid: uuid)), status: 401)
    }

    func testAuthNoneAllowsEverythingAndSaysSo() async throws {
        let server = try startServer(["--auth", "none"])
        let uuid = "dddddddd-0000-4000-8000-000000000040"
        expect(try await TestClient(server).postJSON("/images/\(uuid)?action=import", Fixture.manifest(uuid: uuid)), status: 200)
        XCTAssertTrue(server.logLines.contains { $0.contains("WARNING") && $0.contains("--auth none") }, server.logLines.joined(separator: "\n"))
    }

    func testKeysCommandListsAndRefusesBadInput() throws {
        let storage = try ServerProcess.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: storage) }
        let key = try SSHPrivateKey.generate(.ed25519)
        let pub = storage.appendingPathComponent("id.pub")
        try (key.publicKey.openSSHLine + "\n").write(to: pub, atomically: true, encoding: .utf8)

        XCTAssertEqual(try ServerProcess.run(["keys", "add", "--storage", storage.path, "alice", pub.path]).status, 0)
        let table = try ServerProcess.run(["keys", "list", "--storage", storage.path])
        XCTAssertEqual(table.status, 0)
        XCTAssertTrue(table.output.hasPrefix("USER"), table.output)
        XCTAssertTrue(table.output.contains(key.publicKey.sha256Fingerprint))
        let bare = try ServerProcess.run(["keys", "list", "-H", "--storage", storage.path])
        XCTAssertTrue(bare.output.hasPrefix("alice"), bare.output)
        let json = try ServerProcess.run(["keys", "list", "-j", "--storage", storage.path])
        let rows = try XCTUnwrap(try JSONValue.parse(json.output.trimmingCharacters(in: .whitespacesAndNewlines)).arrayValue)
        XCTAssertEqual(rows.first?.objectValue?["user"], .string("alice"))

        XCTAssertNotEqual(try ServerProcess.run(["keys", "add", "--storage", storage.path, "../evil", pub.path]).status, 0)
        XCTAssertNotEqual(try ServerProcess.run(["keys", "remove", "--storage", storage.path, "bob"]).status, 0)
        let removed = try ServerProcess.run(["keys", "remove", "--storage", storage.path, "alice", key.publicKey.md5Fingerprint])
        XCTAssertEqual(removed.status, 0, removed.output)
        XCTAssertEqual(try ServerProcess.run(["keys", "list", "-H", "--storage", storage.path]).output, "")
    }
}
