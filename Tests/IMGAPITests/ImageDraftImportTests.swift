import XCTest
@testable import IMGAPI

/// `ImageDraft.forImport` (AdminImportImage without `source`, spec §1.15).
final class ImageDraftImportTests: XCTestCase {
    let uuid = TestData.otherUUID

    func body(_ extra: String = "", uuid: String? = nil) -> String {
        #"{"v": 2, "uuid": "\#(uuid ?? self.uuid)", "owner": "\#(TestData.owner)", "name": "n", "version": "1.0", "type": "zone-dataset", "os": "smartos"\#(extra)}"#
    }

    func importing(_ text: String, mode: ServerMode = .public) throws -> JSONObject {
        try ImageDraft.forImport(uuid: uuid, body: JSONValue.parse(text), mode: mode)
    }

    func importError(_ text: String, mode: ServerMode = .public) throws -> IMGAPIError? {
        let value = try JSONValue.parse(text)
        return draftError { () throws(IMGAPIError) in try ImageDraft.forImport(uuid: uuid, body: value, mode: mode) }
    }

    func testResultIsUnactivatedWithZeroOwner() throws {
        let record = try importing(body(#", "state": "active", "files": [{"sha1": "x", "size": 1, "compression": "gzip"}]"#))
        XCTAssertEqual(record["uuid"], .string(uuid))
        XCTAssertEqual(record["owner"], .string(ImageUUID.zero))
        XCTAssertEqual(record["state"], .string("unactivated"))
        XCTAssertEqual(record["activated"], .bool(false))
        XCTAssertEqual(record["files"], .array([]))
        XCTAssertEqual(ManifestValidator(mode: .public).validate(record), [])
    }

    func testBodyUUIDMustMatchThePath() throws {
        for text in [body(uuid: TestData.imageUUID), body().replacingOccurrences(of: #""uuid": "\#(uuid)", "#, with: "")] {
            let error = try importError(text)
            XCTAssertEqual(error?.status, 422)
            XCTAssertEqual(error?.code, "InvalidParameter")
            XCTAssertEqual(error?.errors?.fields, ["uuid"])
        }
    }

    func testPublishedAtAndURNAreKept() throws {
        let record = try importing(body(#", "published_at": "2020-01-02T03:04:05Z", "urn": "sdc:sdc:n:1.0""#))
        XCTAssertEqual(record["published_at"], .string("2020-01-02T03:04:05Z"))
        XCTAssertEqual(record["urn"], .string("sdc:sdc:n:1.0"))
    }

    func testPublishedAtMustBeAString() throws {
        let error = try importError(body(#", "published_at": 1577934245"#))
        XCTAssertEqual(error?.code, "InvalidParameter")
        XCTAssertEqual(error?.errors?.fields, ["published_at"])
        let badFormat = try importError(body(#", "published_at": "yesterday""#))
        XCTAssertEqual(badFormat?.code, "ValidationFailed")
        XCTAssertEqual(badFormat?.errors?.fields, ["published_at"])
    }

    func testDisabledIsHonoured() throws {
        let record = try importing(body(#", "disabled": true"#))
        XCTAssertEqual(record["disabled"], .bool(true))
        XCTAssertEqual(record["state"], .string("unactivated"))
    }

    func testPublicAsInCreate() throws {
        XCTAssertEqual(try importing(body(), mode: .private)["public"], .bool(false))
        XCTAssertEqual(try importError(body(#", "public": false"#), mode: .public)?.errors?.fields, ["public"])
    }

    func testOtherFieldsAreRefused() throws {
        let error = try importError(body(#", "activated": true, "icon_url": "x""#))
        XCTAssertEqual(error?.message, #"invalid extra parameters: "activated", "icon_url""#)
    }

    func testMissingVersionFailsValidation() throws {
        let error = try importError(body().replacingOccurrences(of: #""v": 2, "#, with: ""))
        XCTAssertEqual(error?.code, "ValidationFailed")
        XCTAssertEqual(error?.errors, [.missing("v")])
    }

    func testVersion1ManifestIsUpgraded() throws {
        let dsmanifest = #"""
        {"uuid": "\#(uuid)", "name": "fauxnodejs", "version": "1.4.0", "type": "zone-dataset", "os": "smartos",
         "description": "d", "creator_uuid": "\#(TestData.owner)", "vendor_uuid": "\#(TestData.owner)",
         "creator_name": "sdc", "platform_type": "smartos", "cloud_name": "sdc", "urn": "sdc:sdc:fauxnodejs:1.4.0",
         "created_at": "2013-02-01T20:10Z", "updated_at": "2013-02-01T20:10Z",
         "files": [{"path": "fauxnodejs-1.4.0.zfs.bz2", "sha1": "x", "size": 1, "url": "https://x/fauxnodejs-1.4.0.zfs.bz2"}],
         "requirements": {"networks": [{"name": "net0", "description": "public"}]}}
        """#
        let record = try importing(dsmanifest)
        XCTAssertEqual(record["v"], .number(2))
        XCTAssertEqual(record["owner"], .string(ImageUUID.zero))
        XCTAssertEqual(record["published_at"], .string("2013-02-01T20:10:00Z"))
        XCTAssertEqual(record["public"], .bool(true))
        XCTAssertEqual(record["state"], .string("unactivated"))
        XCTAssertEqual(record["files"], .array([]))
        for dropped in ["creator_uuid", "vendor_uuid", "creator_name", "platform_type", "cloud_name", "created_at", "updated_at"] {
            XCTAssertNil(record[dropped], dropped)
        }
    }

    func testRestrictedVersion1ManifestIsPrivate() throws {
        let dsmanifest = #"""
        {"uuid": "\#(uuid)", "name": "n", "version": "1", "type": "zvol", "os": "linux", "creator_uuid": "\#(TestData.owner)",
         "restricted_to_uuid": "\#(TestData.owner)", "nic_driver": "virtio", "disk_driver": "virtio", "cpu_type": "host",
         "image_size": "10240"}
        """#
        let record = try importing(dsmanifest, mode: .private)
        XCTAssertEqual(record["public"], .bool(false))
        XCTAssertEqual(record["acl"], .array([.string(TestData.owner)]))
        XCTAssertEqual(record["image_size"], .number(10240))
    }
}
