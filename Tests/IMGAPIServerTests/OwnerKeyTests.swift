import Foundation
import HTTPSignature
import IMGAPI
import XCTest

/// Keys bound to an owner (`imgapid keys add NAME FILE --owner UUID`) act for that owner
/// only. Every key could do everything: bob's key changed and deleted admin's images and
/// could name any `account=`.
final class OwnerKeyTests: XCTestCase {
    var server: ServerProcess!
    var admin: TestClient!
    var bob: TestClient!
    let ownerA = "a0000000-0000-4000-8000-00000000000a"
    let bobOwner = "b0000000-0000-4000-8000-00000000000b"

    override func setUp() async throws {
        server = try ServerProcess(["--mode", "private"])
        try server.start()
        admin = try server.signedClient()
        let key = try SSHPrivateKey.generate(.ed25519)
        let file = server.storage.appendingPathComponent("bob.pub")
        try (key.publicKey.openSSHLine + "\n").write(to: file, atomically: true, encoding: .utf8)
        let added = try ServerProcess.run(["keys", "add", "--storage", server.storage.path, "bob", file.path, "--owner", bobOwner])
        XCTAssertEqual(added.status, 0, added.output)
        XCTAssertTrue(added.output.contains("acting for owner \(bobOwner)"), added.output)
        bob = TestClient(server, signer: RequestSigner(user: "bob", key: key))
    }

    override func tearDown() async throws {
        server.stop()
    }

    /// An active image of `owner`, made by the operator; `acl` shares it.
    func image(of owner: String, acl: [String] = []) async throws -> String {
        let acl = acl.map { "\"\($0)\"" }.joined(separator: ", ")
        let created = try await admin.postJSON("/images?account=\(owner)", """
            {"name": "owned", "version": "1", "type": "zone-dataset", "os": "smartos", "acl": [\(acl)]}
            """)
        let uuid = try XCTUnwrap(try created.object()["uuid"]?.stringValue, created.text)
        expect(try await admin.putFile(uuid, Fixture.bytes(100), query: "compression=gzip"), status: 200)
        expect(try await admin.postJSON("/images/\(uuid)?action=activate", "{}"), status: 200)
        return uuid
    }

    func listed(_ client: TestClient) async throws -> Set<String> {
        let items = try await client.get("/images").json().arrayValue ?? []
        return Set(items.compactMap { $0.objectValue?["uuid"]?.stringValue })
    }

    func testOwnerKeyCannotTouchAnotherOwnersImages() async throws {
        let theirs = try await image(of: ownerA)
        let listedForBob = try await listed(bob)
        XCTAssertFalse(listedForBob.contains(theirs), "bob lists A's private image")
        expect(try await bob.get("/images/\(theirs)"), status: 404)
        expect(try await bob.postJSON("/images/\(theirs)?action=update", #"{"description": "bob was here"}"#), status: 404)
        expect(try await bob.postJSON("/images/\(theirs)?action=disable", "{}"), status: 404)
        expect(try await bob.request(.DELETE, "/images/\(theirs)"), status: 404)
        let named = try await bob.request(.DELETE, "/images/\(theirs)?account=\(ownerA)")
        XCTAssertEqual(named.status, 403, named.text)
        XCTAssertTrue(named.text.contains("act for owner \(bobOwner) only"), named.text)
        let untouched = try await admin.get("/images/\(theirs)").object()
        XCTAssertEqual(untouched["state"], .string("active"))
        XCTAssertNil(untouched["description"])

        // Shared with bob by ACL: seen, not changed.
        let shared = try await image(of: ownerA, acl: [bobOwner])
        let sharedListing = try await listed(bob)
        XCTAssertTrue(sharedListing.contains(shared))
        let update = try await bob.postJSON("/images/\(shared)?action=update", #"{"description": "mine now"}"#)
        XCTAssertEqual(update.errorCode, "NotImageOwner", update.text)
    }

    func testOwnerKeyCreatesAndManagesItsOwnImages() async throws {
        let created = try await bob.postJSON("/images", #"{"name": "bobs", "version": "1", "type": "zone-dataset", "os": "smartos"}"#)
        XCTAssertEqual(try created.object()["owner"], .string(bobOwner), created.text)
        let imported = "b0000000-0000-4000-8000-000000000001"
        let manifest = Fixture.manifest(uuid: imported).replacingOccurrences(of: #""public": true"#, with: #""public": false"#)
        let importedImage = try await bob.postJSON("/images/\(imported)?action=import", manifest)
        XCTAssertEqual(try importedImage.object()["owner"], .string(bobOwner), "an owner key imports for its owner only: \(importedImage.text)")
        expect(try await bob.putFile(imported, Fixture.bytes(50), query: "compression=gzip"), status: 200)
        expect(try await bob.postJSON("/images/\(imported)?action=activate", "{}"), status: 200)
        expect(try await bob.postJSON("/images/\(imported)?action=update", #"{"description": "ok"}"#), status: 200)
        expect(try await bob.request(.DELETE, "/images/\(imported)"), status: 204)
        let remote = try await bob.postJSON("/images/\(imported)?action=import-remote&source=http://127.0.0.1:1", "{}")
        XCTAssertEqual(remote.status, 403, remote.text)
    }

    func testKeysListShowsRolesAndRolesDoNotMix() throws {
        let json = try ServerProcess.run(["keys", "list", "-j", "--storage", server.storage.path])
        let rows = try XCTUnwrap(try JSONValue.parse(Array(json.output.utf8)).arrayValue).compactMap(\.objectValue)
        let bobRow = try XCTUnwrap(rows.first { $0["user"] == .string("bob") })
        XCTAssertEqual(bobRow["role"], .string("owner"))
        XCTAssertEqual(bobRow["owner"], .string(bobOwner))
        XCTAssertEqual(rows.first { $0["user"] == .string("admin") }?["role"], .string("operator"))
        let table = try ServerProcess.run(["keys", "list", "--storage", server.storage.path])
        XCTAssertTrue(table.output.contains("owner \(bobOwner)"), table.output)

        let key = try SSHPrivateKey.generate(.ed25519)
        let file = server.storage.appendingPathComponent("bob2.pub")
        try (key.publicKey.openSSHLine + "\n").write(to: file, atomically: true, encoding: .utf8)
        let mixed = try ServerProcess.run(["keys", "add", "--storage", server.storage.path, "bob", file.path])
        XCTAssertNotEqual(mixed.status, 0)
        XCTAssertTrue(mixed.output.contains("is bound to owner \(bobOwner)"), mixed.output)
    }
}
