import XCTest
@testable import HTTPSignature

final class AuthKeyStoreTests: XCTestCase {
    private var directory: URL!
    private var store: AuthKeyStore!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("authkeys-\(UUID().uuidString)", isDirectory: true)
            .appendingPathComponent("local", isDirectory: true)
        store = AuthKeyStore(directory: directory)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory.deletingLastPathComponent())
    }

    private func file(_ user: String) -> URL { directory.appendingPathComponent("\(user).keys") }

    func testEmptyStore() throws {
        XCTAssertEqual(try store.keys(for: "admin"), [])
        XCTAssertTrue(try store.list().isEmpty)
        XCTAssertEqual(try store.remove(user: "admin", fingerprint: nil), 0)
    }

    func testAddListRemove() throws {
        let ed = try SSHPublicKey(openSSHLine: Fixtures.ed25519Line)
        let p256 = try SSHPublicKey(openSSHLine: Fixtures.p256Line)
        let rsa = try SSHPublicKey(openSSHLine: Fixtures.rsa1024Line)
        try store.add(user: "zed", key: rsa)
        try store.add(user: "admin", key: ed)
        try store.add(user: "admin", key: p256)

        XCTAssertEqual(try store.keys(for: "admin"), [ed, p256])
        XCTAssertEqual(try store.keys(for: "admin").map(\.comment), ["fixture@example", "p256 fixture"])
        let listed = try store.list()
        XCTAssertEqual(listed.map(\.user), ["admin", "admin", "zed"])
        XCTAssertEqual(listed.map(\.key), [ed, p256, rsa])
        XCTAssertEqual(try String(contentsOf: file("admin"), encoding: .utf8), Fixtures.ed25519Line + "\n" + Fixtures.p256Line + "\n")

        XCTAssertEqual(try store.remove(user: "admin", fingerprint: Fixtures.ed25519SHA256), 1)
        XCTAssertEqual(try store.keys(for: "admin"), [p256])
        XCTAssertEqual(try store.remove(user: "admin", fingerprint: Fixtures.ed25519MD5), 0)
        XCTAssertEqual(try store.remove(user: "admin", fingerprint: "MD5:" + Fixtures.p256MD5), 1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: file("admin").path), "last key removed deletes the file")
        XCTAssertEqual(try store.list().map(\.user), ["zed"])
        XCTAssertEqual(try store.remove(user: "zed", fingerprint: nil), 1)
        XCTAssertTrue(try store.list().isEmpty)
    }

    func testDuplicateAddIsRefused() throws {
        let ed = try SSHPublicKey(openSSHLine: Fixtures.ed25519Line)
        try store.add(user: "admin", key: ed)
        var renamed = ed
        renamed.comment = "same key, other comment"
        XCTAssertThrowsError(try store.add(user: "admin", key: renamed)) { error in
            XCTAssertEqual(error as? AuthKeyStore.Error, .duplicateKey(user: "admin", fingerprint: Fixtures.ed25519SHA256))
        }
        XCTAssertEqual(try store.keys(for: "admin").count, 1)
        XCTAssertNoThrow(try store.add(user: "other", key: ed))
    }

    func testInvalidUserNames() throws {
        let ed = try SSHPublicKey(openSSHLine: Fixtures.ed25519Line)
        for name in ["", "../x", "a/b", ".hidden", "-dash", "x y", "é", "a\0b", String(repeating: "a", count: 65), "..", "a\\b"] {
            XCTAssertThrowsError(try store.keys(for: name), name) { error in
                XCTAssertEqual(error as? AuthKeyStore.Error, .invalidUser(name))
            }
            XCTAssertThrowsError(try store.add(user: name, key: ed), name)
            XCTAssertThrowsError(try store.remove(user: name, fingerprint: nil), name)
        }
        for name in ["a", "admin", "A.b_c-9", "0", String(repeating: "a", count: 64)] {
            XCTAssertTrue(AuthKeyStore.isValidUser(name), name)
        }
    }

    func testCommentsBlankAndUnparsableLinesAreSkippedAndKept() throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let text = """
            # admin keys

            \(Fixtures.ed25519Line)
               # indented comment
            ssh-rsa not-a-key
            ssh-dss AAAAB3NzaC1kc3MAAACBAP legacy
            \t\(Fixtures.p256Line)\r
            """
        try text.write(to: file("admin"), atomically: true, encoding: .utf8)
        let keys = try store.keys(for: "admin")
        XCTAssertEqual(keys.map(\.sha256Fingerprint), [Fixtures.ed25519SHA256, Fixtures.p256SHA256])

        XCTAssertEqual(try store.remove(user: "admin", fingerprint: Fixtures.ed25519MD5), 1)
        let remaining = try String(contentsOf: file("admin"), encoding: .utf8)
        XCTAssertTrue(remaining.contains("# admin keys"))
        XCTAssertTrue(remaining.contains("ssh-rsa not-a-key"))
        XCTAssertFalse(remaining.contains(Fixtures.ed25519Line))

        let rsa = try SSHPublicKey(openSSHLine: Fixtures.rsa1024Line)
        try store.add(user: "admin", key: rsa)
        XCTAssertEqual(try store.keys(for: "admin").map(\.sha256Fingerprint), [Fixtures.p256SHA256, Fixtures.rsa1024SHA256])
    }

    func testSeesChangesMadeBehindItsBack() throws {
        let ed = try SSHPublicKey(openSSHLine: Fixtures.ed25519Line)
        try store.add(user: "admin", key: ed)
        XCTAssertEqual(try store.keys(for: "admin"), [ed])
        try (Fixtures.p256Line + "\n").write(to: file("admin"), atomically: true, encoding: .utf8)
        XCTAssertEqual(try store.keys(for: "admin").map(\.sha256Fingerprint), [Fixtures.p256SHA256])
        try FileManager.default.removeItem(at: file("admin"))
        XCTAssertEqual(try store.keys(for: "admin"), [])
        // A second store over the same directory sees the first one's writes.
        try store.add(user: "admin", key: ed)
        XCTAssertEqual(try AuthKeyStore(directory: directory).keys(for: "admin"), [ed])
    }

    func testListIgnoresOtherFiles() throws {
        try store.add(user: "admin", key: try SSHPublicKey(openSSHLine: Fixtures.ed25519Line))
        try "junk".write(to: directory.appendingPathComponent("notes.txt"), atomically: true, encoding: .utf8)
        try "junk".write(to: directory.appendingPathComponent(".tmp.keys"), atomically: true, encoding: .utf8)
        XCTAssertEqual(try store.list().map(\.user), ["admin"])
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".tmp") }
        XCTAssertEqual(leftovers, [])
    }

    func testStoredKeysVerifyRequests() throws {
        try store.add(user: "admin", key: TestKeys.ed25519.publicKey)
        let date = RequestSigner.httpDate(Date())
        let authorization = try RequestSigner(user: "admin", key: TestKeys.ed25519).authorization(date: date, method: "GET", path: "/")
        let result = SignatureVerifier().verify(
            authorization: authorization, method: "GET", path: "/", header: { $0 == "date" ? date : nil }, now: Date(),
            keys: store.keys(for:))
        XCTAssertEqual(try result.get(), "admin")
    }
}
