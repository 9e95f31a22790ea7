import XCTest
@testable import IMGAPI

/// `ImageView.render` (spec §2.3).
final class ImageViewTests: XCTestCase {
    /// A record holding every field, in an order unlike the output's.
    func fullRecord() throws -> JSONObject {
        try parseObject(#"""
        {"channels": ["dev"], "error": {"message": "boom"}, "traits": {"ssd": true}, "billing_tags": ["gold"],
         "tags": {"z": 1, "a": {"y": 2, "b": 3}}, "image_size": 10240, "cpu_type": "host", "disk_driver": "virtio",
         "nic_driver": "virtio", "origin": "\#(TestData.otherUUID)", "inherited_directories": ["/opt"],
         "generate_passwords": false, "users": [{"name": "root"}],
         "requirements": {"min_platform": {"7.0": "20141030T081701Z"}, "brand": "bhyve"}, "urn": "sdc:sdc:n:1",
         "icon": {"contentMD5": "x", "size": 4, "contentType": "image/png", "stor": "local"},
         "eula": "https://e", "homepage": "https://h", "description": "d", "acl": ["\#(TestData.owner)"],
         "files": [{"mtime": "t", "stor": "local", "dataset_guid": "123", "compression": "gzip", "contentMD5": "m",
                    "sha256": "s256", "size": 4, "sha1": "s1"}],
         "os": "linux", "type": "zvol", "published_at": "2020-01-02T03:04:05Z", "public": false, "disabled": false,
         "activated": true, "state": "failed", "version": "1", "name": "n", "owner": "\#(TestData.owner)",
         "uuid": "\#(TestData.imageUUID)", "v": 2}
        """#)
    }

    func testKeyOrderInPrivateModeWithEverything() throws {
        let view = ImageView.render(try fullRecord(), mode: .private, inclAdminFields: true, includeChannels: true)
        XCTAssertEqual(view.keys, [
            "v", "uuid", "owner", "name", "version", "state", "disabled", "public", "published_at", "type", "os", "files",
            "acl", "description", "homepage", "eula", "icon", "urn", "requirements", "users", "generate_passwords",
            "inherited_directories", "origin", "nic_driver", "disk_driver", "cpu_type", "image_size", "tags",
            "billing_tags", "traits", "error", "channels",
        ])
        XCTAssertEqual(view["icon"], .bool(true))
        XCTAssertEqual(view["files"], try JSONValue.parse(#"[{"sha1": "s1", "size": 4, "compression": "gzip", "dataset_guid": "123", "digest": "sha256:s256", "stor": "local"}]"#))
    }

    func testNestedObjectsKeepTheirOrder() throws {
        let view = ImageView.render(try fullRecord(), mode: .private)
        XCTAssertEqual(view["tags"]?.compact(), #"{"z":1,"a":{"y":2,"b":3}}"#)
        XCTAssertEqual(view["requirements"]?.objectValue?.keys, ["min_platform", "brand"])
    }

    func testHiddenByDefault() throws {
        let view = ImageView.render(try fullRecord(), mode: .public)
        XCTAssertNil(view["activated"])
        XCTAssertNil(view["billing_tags"])
        XCTAssertNil(view["traits"])
        XCTAssertNil(view["channels"])
        XCTAssertEqual(view["files"], try JSONValue.parse(#"[{"sha1": "s1", "size": 4, "compression": "gzip", "dataset_guid": "123", "digest": "sha256:s256"}]"#))
    }

    func testErrorOnlyWhenFailed() throws {
        var record = try fullRecord()
        XCTAssertNotNil(ImageView.render(record, mode: .private)["error"])
        record["state"] = .string("active")
        XCTAssertNil(ImageView.render(record, mode: .private)["error"])
    }

    func testEmptyCollectionsAreOmitted() throws {
        var record = TestData.record()
        record["billing_tags"] = .array([])
        record["traits"] = .object(JSONObject())
        let view = ImageView.render(record, mode: .private)
        XCTAssertNil(view["acl"])
        XCTAssertNil(view["billing_tags"])
        XCTAssertNil(view["traits"])
        XCTAssertEqual(view["files"], .array([]))
    }

    func testPlaceholderNullTypeAndOSAreOmitted() {
        var record = TestData.record()
        record["state"] = .string("creating")
        record["type"] = .string("null")
        record["os"] = .string("null")
        let view = ImageView.render(record, mode: .public)
        XCTAssertNil(view["type"])
        XCTAssertNil(view["os"])
        XCTAssertEqual(view["state"], .string("creating"))
    }

    func testUnactivatedRecordLayout() {
        let view = ImageView.render(TestData.record(), mode: .public)
        XCTAssertEqual(view.compact(), #"{"v":2,"uuid":"\#(TestData.imageUUID)","owner":"\#(TestData.owner)","name":"base","version":"1.0.0","state":"unactivated","disabled":false,"public":true,"type":"zone-dataset","os":"smartos","files":[]}"#)
    }

    func testStateIsDerivedWhenTheRecordLacksIt() {
        var record = TestData.record()
        record["state"] = nil
        record["activated"] = .bool(true)
        record["disabled"] = .bool(true)
        XCTAssertEqual(ImageView.render(record, mode: .public)["state"], .string("disabled"))
    }
}
