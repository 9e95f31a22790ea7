import Foundation
import IMGAPI
import XCTest

/// AddImageAcl/RemoveImageAcl (spec §1.13) and what `account=` lets each account see (§1.2, §1.3).
final class ImageAclTests: XCTestCase {
    var server: ServerProcess!
    /// Signed in: may ask for every state.
    var admin: TestClient!
    let ownerA = "aaaa0000-0000-4000-8000-00000000000a"
    let sharedB = "bbbb0000-0000-4000-8000-00000000000b"
    let otherC = "cccc0000-0000-4000-8000-00000000000c"

    override func tearDown() async throws {
        server?.stop()
    }

    func start(mode: String) async throws {
        server = try ServerProcess(["--mode", mode])
        try server.start()
        admin = try server.signedClient()
    }

    /// CreateImage as account A, then (unless `activate` is false) file and activation.
    func create(_ name: String, acl: [String] = [], activate: Bool = true, disable: Bool = false) async throws -> String {
        let aclJSON = acl.map { "\"\($0)\"" }.joined(separator: ", ")
        let created = try await admin.postJSON("/images?account=\(ownerA)", """
            {"name": "\(name)", "version": "1", "type": "zone-dataset", "os": "smartos", "acl": [\(aclJSON)]}
            """)
        expect(created, status: 200)
        let uuid = try XCTUnwrap(created.object()["uuid"]?.stringValue)
        XCTAssertEqual(try created.object()["owner"], .string(ownerA))
        if activate {
            expect(try await admin.putFile(uuid, Fixture.bytes(100, seed: 3), query: "compression=gzip"), status: 200)
            expect(try await admin.postJSON("/images/\(uuid)?action=activate", "{}"), status: 200)
        }
        if disable { expect(try await admin.postJSON("/images/\(uuid)?action=disable", "{}"), status: 200) }
        return uuid
    }

    func names(_ query: String) async throws -> [String] {
        let result = try await admin.get("/images?\(query)")
        XCTAssertEqual(result.status, 200, result.text)
        return (try result.json().arrayValue ?? []).compactMap { $0.objectValue?["name"]?.stringValue }.sorted()
    }

    func expectNames(_ query: String, _ expected: [String], file: StaticString = #filePath, line: UInt = #line) async throws {
        let listed = try await names(query)
        XCTAssertEqual(listed, expected.sorted(), query, file: file, line: line)
    }

    func testPrivateImagesAreSeenByOwnerAndSharedAccountsOnly() async throws {
        try await start(mode: "private")
        let shared = try await create("shared", acl: [sharedB])
        let unshared = try await create("unshared")
        let pending = try await create("pending", acl: [sharedB], activate: false)
        let disabled = try await create("disabled", acl: [sharedB], disable: true)

        try await expectNames("account=\(ownerA)", ["shared", "unshared"])
        try await expectNames("account=\(ownerA)&state=all", ["shared", "unshared", "pending", "disabled"])
        try await expectNames("account=\(sharedB)", ["shared"])
        try await expectNames("account=\(sharedB)&state=all", ["shared", "disabled"])
        try await expectNames("account=\(otherC)&state=all", [])
        try await expectNames("account=\(sharedB)&owner=\(ownerA)", ["shared"])

        for (account, visible) in [(ownerA, [shared, unshared, pending, disabled]), (sharedB, [shared, disabled]), (otherC, [])] {
            for uuid in [shared, unshared, pending, disabled] {
                let result = try await admin.get("/images/\(uuid)?account=\(account)")
                XCTAssertEqual(result.status, visible.contains(uuid) ? 200 : 404, "\(account) GET \(uuid)")
                let file = try await admin.get("/images/\(uuid)/file?account=\(account)")
                XCTAssertEqual(file.status, visible.contains(uuid) && uuid != pending ? 200 : 404, "\(account) file \(uuid)")
            }
        }
    }

    func testPublicImagesAreSeenByEveryAccount() async throws {
        try await start(mode: "public")
        _ = try await create("open")
        _ = try await create("draft", activate: false)
        try await expectNames("account=\(otherC)", ["open"])
        try await expectNames("account=\(otherC)&state=all", ["open"])
        try await expectNames("account=\(ownerA)&state=all", ["draft", "open"])
    }

    func testAddAndRemoveAcl() async throws {
        try await start(mode: "private")
        let uuid = try await create("image")
        try await expectNames("account=\(sharedB)", [])
        let added = try await admin.postJSON("/images/\(uuid)/acl?action=add", "[\"\(sharedB)\", \"\(otherC)\", \"\(sharedB)\"]")
        expect(added, status: 200)
        XCTAssertEqual(try added.object()["acl"], .array([.string(sharedB), .string(otherC)]), "duplicates ignored")
        try await expectNames("account=\(sharedB)", ["image"])
        expect(try await admin.get("/images/\(uuid)?account=\(sharedB)"), status: 200)
        let defaultAction = try await admin.postJSON("/images/\(uuid)/acl", "[\"\(sharedB)\"]")
        XCTAssertEqual(try defaultAction.object()["acl"], .array([.string(sharedB), .string(otherC)]), "add by default")
        let removed = try await admin.postJSON("/images/\(uuid)/acl?action=remove", "[\"\(sharedB)\", \"\(ownerA)\"]")
        XCTAssertEqual(try removed.object()["acl"], .array([.string(otherC)]), "absent ones ignored")
        let emptied = try await admin.postJSON("/images/\(uuid)/acl?action=remove", "[\"\(otherC)\"]")
        XCTAssertNil(try emptied.object()["acl"], "an empty acl is not shown")
        try await expectNames("account=\(sharedB)", [])
        // GetImage was answered from the cache above; the ACL change must reach it.
        expect(try await admin.get("/images/\(uuid)?account=\(sharedB)"), status: 404)

        for (body, action) in [("{}", "add"), ("[\"not-a-uuid\"]", "add"), ("[42]", "remove"), ("[]", "explode")] {
            let refused = try await admin.postJSON("/images/\(uuid)/acl?action=\(action)", body)
            XCTAssertEqual(refused.status, 422, body)
            XCTAssertEqual(refused.errorCode, "InvalidParameter", body)
        }
        let unsigned = try await TestClient(server).postJSON("/images/\(uuid)/acl", "[\"\(sharedB)\"]")
        XCTAssertEqual(unsigned.status, 401)
        expect(try await admin.get("/images/\(uuid)/acl"), status: 405)
    }
}
