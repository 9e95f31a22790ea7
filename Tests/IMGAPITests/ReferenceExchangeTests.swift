import XCTest
@testable import IMGAPI

/// Byte-exact comparison with bodies recorded from the reference server (sdc-imgapi 4.13.1).
final class ReferenceExchangeTests: XCTestCase {
    static let importUUID = "3b0d1c5e-9b7a-4c2e-8f60-7d2a9e4b5c10"

    func exchange(_ folder: String, _ file: String) throws -> String {
        try TestData.text(TestData.exchangesDirectory.appendingPathComponent(folder).appendingPathComponent(file))
    }

    /// The CreateImage body the recording sent.
    func sentManifest(_ folder: String) throws -> JSONObject {
        try parseObject(exchange(folder, "manifest.sent.json"))
    }

    /// The uuid the reference assigned, read back from its response.
    func assignedUUID(_ body: String) throws -> String {
        try XCTUnwrap(parseObject(body)["uuid"]?.stringValue)
    }

    func assertCreateMatches(_ folder: String, mode: ServerMode) throws {
        let expected = try exchange(folder, "04-create.body")
        let uuid = ImageUUID.random()
        let record = try ImageDraft.forCreate(body: .object(sentManifest(folder)), account: nil, mode: mode, uuid: uuid)
        let rendered = ImageView.render(record, mode: mode).prettyPrinted()
        XCTAssertEqual(rendered.replacingOccurrences(of: uuid, with: try assignedUUID(expected)), expected)
    }

    func assertImportMatches(_ folder: String, mode: ServerMode) throws {
        let expected = try exchange(folder, "23-import-with-uuid.body")
        var body = try sentManifest(folder)
        body["uuid"] = .string(Self.importUUID)
        body["published_at"] = .string("2020-01-02T03:04:05Z")
        body["state"] = .string("active")
        body["files"] = .array([])
        let record = try ImageDraft.forImport(uuid: Self.importUUID, body: .object(body), mode: mode)
        XCTAssertEqual(ImageView.render(record, mode: mode).prettyPrinted(), expected)
    }

    func testCreatePublic() throws {
        try assertCreateMatches("sdc-imgapi-public-sigauth", mode: .public)
    }

    func testCreatePrivate() throws {
        try assertCreateMatches("sdc-imgapi-private-sigauth", mode: .private)
    }

    func testImportPublic() throws {
        try assertImportMatches("sdc-imgapi-public-sigauth", mode: .public)
    }

    func testImportPrivate() throws {
        try assertImportMatches("sdc-imgapi-private-sigauth", mode: .private)
    }

    func testCreateWithUUIDError() throws {
        var body = try sentManifest("sdc-imgapi-public-sigauth")
        body["uuid"] = .string("8f1f3d2e-6c1b-4f4e-9a55-2b7c1d0e9a01")
        let error = draftError { () throws(IMGAPIError) in
            try ImageDraft.forCreate(body: .object(body), account: nil, mode: .public, uuid: ImageUUID.random())
        }
        XCTAssertEqual(error?.status, 422)
        XCTAssertEqual(error?.body.prettyPrinted(), try exchange("sdc-imgapi-public-sigauth", "03-create-with-uuid.body"))
    }

    /// The reference's GET after activation (15-get) and with inclAdminFields (29-get-incl-admin).
    func testActivatedImageMatchesGetBodies() throws {
        let folder = "sdc-imgapi-public-sigauth"
        let getBody = try exchange(folder, "15-get.body")
        let uuid = try assignedUUID(getBody)
        var record = try ImageDraft.forCreate(body: .object(sentManifest(folder)), account: nil, mode: .public, uuid: uuid)
        record["activated"] = .bool(true)
        record["state"] = .string(ImageState.active.rawValue)
        record["published_at"] = .string("2026-11-22T02:41:36.792Z")
        record["files"] = .array([TestData.storedFile()])
        XCTAssertEqual(ImageView.render(record, mode: .public).withoutFileDigests.prettyPrinted(), getBody)
        record["description"] = .string("updated by peers-run")
        XCTAssertEqual(ImageView.render(record, mode: .public, inclAdminFields: true).withoutFileDigests.prettyPrinted(), try exchange(folder, "29-get-incl-admin.body"))
        XCTAssertEqual(ManifestValidator(mode: .public).validate(record), [])
    }
}
