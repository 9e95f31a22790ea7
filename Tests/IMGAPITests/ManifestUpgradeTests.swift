import XCTest
@testable import IMGAPI

/// The v1 (DSAPI) to v2 upgrade (spec §2.5).
final class ManifestUpgradeTests: XCTestCase {
    func testWhichManifestsAreVersion1() throws {
        XCTAssertTrue(ManifestUpgrade.isVersion1(try parseObject(#"{"creator_uuid": "x"}"#)))
        XCTAssertTrue(ManifestUpgrade.isVersion1(try parseObject(#"{"creator_uuid": "x", "v": 1}"#)))
        XCTAssertFalse(ManifestUpgrade.isVersion1(try parseObject(#"{"creator_uuid": "x", "v": 2}"#)))
        XCTAssertFalse(ManifestUpgrade.isVersion1(try parseObject(#"{"name": "x"}"#)))
    }

    func testUpgrade() throws {
        let old = try parseObject(#"""
        {"uuid": "u", "creator_uuid": "c", "vendor_uuid": "v", "creator_name": "n", "cloud_name": "sdc",
         "creator_admin": false, "owner_uuid": "o", "platform_type": "smartos", "created_at": "2012-01-02T03:04Z",
         "updated_at": "x", "_url": "x", "disabled": true, "image_size": "1024",
         "files": [{"path": "a.zfs.gz", "sha1": "s", "size": 1}, {"url": "https://h/p/a.zfs.bz2"}, {"path": "a.zfs"},
                   {"path": "a.tar.xz", "compression": "xz"}]}
        """#)
        let new = ManifestUpgrade.toVersion2(old)
        XCTAssertEqual(new["v"], .number(2))
        XCTAssertEqual(new["owner"], .string("c"))
        XCTAssertEqual(new["public"], .bool(true))
        XCTAssertEqual(new["disabled"], .bool(true))
        XCTAssertEqual(new["state"], .string("disabled"))
        XCTAssertEqual(new["published_at"], .string("2012-01-02T03:04:00Z"))
        XCTAssertEqual(new["image_size"], .number(1024))
        let compressions = new["files"]?.arrayValue?.map { $0.objectValue?["compression"] }
        XCTAssertEqual(compressions, [.string("gzip"), .string("bzip2"), .string("none"), .string("xz")])
        XCTAssertEqual(new["files"]?.arrayValue?.first, .object(JSONObject([("sha1", .string("s")), ("size", .number(1)), ("compression", .string("gzip"))])))
        for dropped in ManifestUpgrade.droppedFields {
            XCTAssertNil(new[dropped], dropped)
        }
    }

    func testPublishedAtIsKeptOverCreatedAt() throws {
        let new = ManifestUpgrade.toVersion2(try parseObject(#"{"creator_uuid": "c", "published_at": "2013-01-01T00:00:00Z", "created_at": "2012-01-01T00:00Z"}"#))
        XCTAssertEqual(new["published_at"], .string("2013-01-01T00:00:00Z"))
        XCTAssertEqual(new["state"], .string("active"))
    }

    func testExtensionOf() {
        XCTAssertEqual(ManifestUpgrade.extensionOf("a/b/c.zfs.gz"), ".gz")
        XCTAssertEqual(ManifestUpgrade.extensionOf("https://h/x.bz2"), ".bz2")
        XCTAssertEqual(ManifestUpgrade.extensionOf(".bashrc"), "")
        XCTAssertEqual(ManifestUpgrade.extensionOf("noext"), "")
    }
}
