import XCTest
@testable import IMGAPI

/// The top-level field rules of `ManifestValidator` (spec §2.1, §2.2).
final class ManifestValidatorTests: XCTestCase {
    /// The errors of the base record after `change`.
    func errors(mode: ServerMode = .public, channels: Bool = false, _ change: (inout JSONObject) -> Void = { _ in }) -> [FieldError] {
        var record = TestData.record()
        if mode == .private { record["public"] = .bool(false) }
        change(&record)
        return ManifestValidator(mode: mode, channelsConfigured: channels).validate(record)
    }

    func assertAccepted(_ field: String, _ values: [JSONValue], mode: ServerMode = .public, _ extra: (inout JSONObject) -> Void = { _ in }, line: UInt = #line) {
        for value in values {
            let found = errors(mode: mode) { extra(&$0); $0[field] = value }
            XCTAssertEqual(found, [], "\(field) = \(value.compact())", line: line)
        }
    }

    func assertRefused(_ field: String, _ values: [JSONValue], code: String = "Invalid", mode: ServerMode = .public, _ extra: (inout JSONObject) -> Void = { _ in }, line: UInt = #line) {
        for value in values {
            let found = errors(mode: mode) { extra(&$0); $0[field] = value }
            XCTAssertEqual(found.map { "\($0.field) \($0.code)" }, ["\(field) \(code)"], "\(field) = \(value.compact())", line: line)
        }
    }

    func testBaseRecordIsValidInBothModes() {
        XCTAssertEqual(errors(mode: .public), [])
        XCTAssertEqual(errors(mode: .private), [])
    }

    func testRequiredFields() {
        for field in ["v", "uuid", "owner", "name", "version", "disabled", "activated", "public", "state", "type", "os"] {
            XCTAssertEqual(errors { $0[field] = nil }, [.missing(field)], field)
        }
    }

    func testAllErrorsAreCollectedInReferenceOrder() {
        let found = errors {
            $0["description"] = .number(1)
            $0["name"] = nil
            $0["bogus"] = .bool(true)
            $0["type"] = .string("vm")
            $0["v"] = nil
        }
        XCTAssertEqual(found.fields, ["v", "name", "type", "description", "bogus"])
        XCTAssertEqual(IMGAPIError.validationFailed(found).message, "invalid image data: v, name, type, description, bogus")
    }

    func testUnknownTopLevelKey() {
        XCTAssertEqual(errors { $0["foo"] = .string("x") }, [FieldError(field: "foo", code: "Invalid")])
        XCTAssertEqual(errors { $0["tagsObj"] = .object(JSONObject()) }.fields, ["tagsObj"])
    }

    func testV() {
        assertAccepted("v", [.number(2), .number(0), .string("2"), .number(1)])
        assertRefused("v", [.number(-1), .string("two"), .object(JSONObject()), .array([.number(1)])])
    }

    func testUUIDAndOwner() {
        let valid: [JSONValue] = [.string("00000000-0000-0000-0000-000000000000"), .string(TestData.otherUUID)]
        let invalid: [JSONValue] = [.string(TestData.otherUUID.uppercased()), .string("not-a-uuid"), .number(1), .null]
        assertAccepted("uuid", valid)
        assertRefused("uuid", invalid)
        assertAccepted("owner", valid)
        assertRefused("owner", invalid)
    }

    func testName() {
        assertAccepted("name", [.string("a b/c_d.e-F9"), .string(String(repeating: "n", count: 1024))])
        assertRefused("name", [.string(""), .string("a+b"), .string("é"), .string(String(repeating: "n", count: 1025)), .number(12)])
        XCTAssertEqual(errors { $0["name"] = .string("a:b") }.first?.message,
                       "image name has invalid characters (only alpha-numeric characters and \" \", \".\", \"-\", \"_\" and \"/\" are allowed)")
        XCTAssertEqual(errors { $0["name"] = .string(String(repeating: "n", count: 1025)) }.first?.message,
                       "image name is too long, max 1024 characters")
    }

    func testVersion() {
        assertAccepted("version", [.string("1.0.0+build/2_x-y"), .string(String(repeating: "1", count: 512))])
        assertRefused("version", [.string("1 0"), .string(""), .string(String(repeating: "1", count: 513)), .number(1)])
    }

    func testDescription() {
        assertAccepted("description", [.string(""), .string(String(repeating: "d", count: 10240))])
        assertRefused("description", [.string(String(repeating: "d", count: 10241)), .number(1)])
    }

    func testHomepageAndEULA() {
        let good: [JSONValue] = [.string("https://example.com/x"), .string("HTTP://example.com"), .string("http:relative")]
        let bad: [JSONValue] = [.string("ftp://example.com"), .string("example.com"), .string(""), .number(1),
                                .string("https://" + String(repeating: "x", count: 1017))]
        for field in ["homepage", "eula"] {
            assertAccepted(field, good + [.string("https://" + String(repeating: "x", count: 1016))])
            assertRefused(field, bad)
        }
        XCTAssertEqual(errors { $0["eula"] = .string("ftp://x") }.first?.message, "invalid image EULA URL protocol")
    }

    func testBooleans() {
        for field in ["disabled", "activated", "generate_passwords"] {
            assertAccepted(field, [.bool(false), .string("false")])
            assertRefused(field, [.string("yes"), .number(0), .null])
        }
        assertAccepted("disabled", [.bool(true), .string("true")])
    }

    func testPublishedAt() {
        XCTAssertEqual(errors { $0["activated"] = .bool(true); $0["files"] = .array([TestData.storedFile()]) },
                       [.missing("published_at", "if activated is \"true\" published_at must be present")])
        assertAccepted("published_at", [.string("2020-01-02T03:04:05Z"), .string("2026-11-22T02:41:36.792Z")])
        assertRefused("published_at", [.string("2020-01-02T03:04:05.12Z"), .string("2020-01-02T03:04Z"),
                                        .string("2020-01-02 03:04:05Z"), .string(""), .number(2020)])
    }

    func testPublicFollowsTheMode() {
        assertAccepted("public", [.bool(true), .string("true")], mode: .public)
        assertRefused("public", [.bool(false)], mode: .public)
        XCTAssertEqual(errors { $0["public"] = .bool(false) },
                       [.invalid("public", "private images are not allowed on a public Images API")])
        assertAccepted("public", [.bool(false), .string("false")], mode: .private)
        assertRefused("public", [.bool(true)], mode: .private)
        XCTAssertEqual(errors(mode: .private) { $0["public"] = .bool(true) },
                       [.invalid("public", "public images are not allowed on a private Images API")])
        assertRefused("public", [.string("yes"), .number(1)])
    }

    func testState() {
        assertAccepted("state", ImageState.allCases.map { .string($0.rawValue) })
        assertRefused("state", [.string("deleted"), .string("Active"), .bool(true)])
    }

    func testTypeAndOS() {
        for type in ManifestFields.types {
            let found = errors {
                $0["type"] = .string(type)
                if type == "zvol" {
                    $0["nic_driver"] = .string("virtio"); $0["disk_driver"] = .string("virtio")
                    $0["cpu_type"] = .string("host"); $0["image_size"] = .number(10240)
                }
            }
            XCTAssertEqual(found, [], type)
        }
        assertRefused("type", [.string("vm"), .string("null"), .number(1)])
        XCTAssertEqual(errors { $0["type"] = .string("vm") }.first?.message,
                       "invalid image type, \"vm\", must be one of: zone-dataset, lx-dataset, zvol, docker, lxd, other")
        assertAccepted("os", ["smartos", "linux", "windows", "bsd", "illumos", "other"].map(JSONValue.string))
        assertRefused("os", [.string("macos"), .string("null"), .null])
        for state in ["creating", "failed"] {
            XCTAssertEqual(errors { $0["state"] = .string(state); $0["type"] = .string("null"); $0["os"] = .string("null") }, [])
        }
    }

    func testZvolFieldsRequiredForZvol() {
        let found = errors { $0["type"] = .string("zvol") }
        XCTAssertEqual(found, ["nic_driver", "disk_driver", "cpu_type", "image_size"].map { .missing($0) })
        XCTAssertEqual(errors {
            $0["type"] = .string("zvol"); $0["nic_driver"] = .string("virtio"); $0["disk_driver"] = .string("virtio")
            $0["cpu_type"] = .string("host"); $0["image_size"] = .string("10240")
        }, [])
    }

    func testZvolFieldsRefusedOtherwise() {
        for field in ["nic_driver", "disk_driver", "cpu_type"] {
            assertRefused(field, [.string("virtio")])
        }
        assertRefused("image_size", [.number(10240)])
        XCTAssertEqual(errors { $0["nic_driver"] = .string("e1000") }.first?.message,
                       "invalid image nic_driver: \"e1000\" (only allowed when image type is zvol)")
    }

    func testZvolFieldTypes() {
        let zvol: (inout JSONObject) -> Void = {
            $0["type"] = .string("zvol"); $0["nic_driver"] = .string("virtio"); $0["disk_driver"] = .string("virtio")
            $0["cpu_type"] = .string("host"); $0["image_size"] = .number(10240)
        }
        assertRefused("nic_driver", [.number(1), .bool(true)], zvol)
        assertAccepted("image_size", [.number(1), .string("20480")], zvol)
        assertRefused("image_size", [.number(0), .number(-5), .number(1.5), .string("big")], zvol)
    }

    func testOrigin() {
        assertAccepted("origin", [.string(TestData.otherUUID)])
        assertRefused("origin", [.string("x"), .number(1)])
    }

    func testError() {
        assertAccepted("error", [.object(JSONObject([("message", .string("boom"))]))])
        assertRefused("error", [.string("boom"), .array([])])
    }

    func testIcon() {
        assertAccepted("icon", [.bool(true), .object(JSONObject([("contentMD5", .string("x")), ("stor", .string("local"))]))])
        assertRefused("icon", [.string("x"), .number(1)])
    }

    func testACL() {
        assertAccepted("acl", [.array([]), .array([.string(TestData.owner), .string(TestData.otherUUID)])])
        assertRefused("acl", [.string(TestData.owner), .array([.string(TestData.owner), .string("x")])])
        XCTAssertEqual(errors { $0["acl"] = .array([.string(TestData.owner), .string("x")]) }.first?.message,
                       "invalid image \"acl\" (item 1 is not a UUID): x")
    }

    func testUsers() {
        assertAccepted("users", [.array([]), .array([.object(JSONObject([("name", .string("root"))]))])])
        assertRefused("users", [
            .string("root"),
            .array([.string("root")]),
            .array([.object(JSONObject([("name", .string("root")), ("uid", .number(0))]))]),
            .array([.object(JSONObject([("login", .string("root"))]))]),
        ])
    }

    func testTags() {
        let nested = JSONObject([("role", .string("os")), ("n", .number(1)), ("b", .bool(true)), ("o", .object(JSONObject([("x", .null)])))])
        assertAccepted("tags", [.object(JSONObject()), .object(nested)])
        assertRefused("tags", [.array([]), .string("role=os"), .null])
        let justFits = JSONObject([("k", .string(String(repeating: "x", count: 102_400 - 8)))])
        XCTAssertEqual(JSONValue.object(justFits).compact().count, 102_400)
        assertAccepted("tags", [.object(justFits)])
        let tooBig = JSONObject([("k", .string(String(repeating: "x", count: 102_400 - 7)))])
        assertRefused("tags", [.object(tooBig)])
    }

    func testTraits() {
        let traits = JSONObject([("ssd", .bool(true)), ("group", .string("x")), ("list", .array([.number(1)]))])
        assertAccepted("traits", [.object(traits)])
        assertRefused("traits", [.array([]), .string("x"), .object(JSONObject([("n", .number(1))])), .object(JSONObject([("o", .object(JSONObject()))]))])
    }

    func testBillingTags() {
        assertAccepted("billing_tags", [.array([]), .array([.string("a"), .string(String(repeating: "b", count: 128))])])
        assertRefused("billing_tags", [.string("a"), .array([.number(1)]), .array([.string(String(repeating: "b", count: 129))])])
    }

    func testInheritedDirectories() {
        assertAccepted("inherited_directories", [.array([.string("/opt"), .string("/usr")])])
        assertRefused("inherited_directories", [.string("/opt"), .array([.string("/opt"), .number(1)])])
        assertRefused("inherited_directories", [.array([.string("/opt")])]) { $0["type"] = .string("lx-dataset"); $0["os"] = .string("linux") }
    }

    func testURN() {
        assertAccepted("urn", [.string("sdc:sdc:pkgbuild:18.1.0")])
        assertRefused("urn", [.number(1), .array([])])
    }

    func testChannels() {
        XCTAssertEqual(errors { $0["channels"] = .array([.string("dev")]) }.fields, ["channels"])
        XCTAssertEqual(errors(channels: true), [.missing("channels")])
        XCTAssertEqual(errors(channels: true) { $0["channels"] = .array([.string("dev"), .string("staging")]) }, [])
        XCTAssertEqual(errors(channels: true) { $0["channels"] = .array([.number(1)]) }.map(\.code), ["Invalid"])
        XCTAssertEqual(errors(channels: true) { $0["channels"] = .string("dev") }.map(\.code), ["Invalid"])
    }
}
