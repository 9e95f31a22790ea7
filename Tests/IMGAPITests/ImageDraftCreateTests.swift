import XCTest
@testable import IMGAPI

/// `ImageDraft.forCreate` (CreateImage, spec §1.6).
final class ImageDraftCreateTests: XCTestCase {
    let uuid = TestData.imageUUID

    func body(_ extra: String = "", owner: String? = TestData.owner) -> String {
        let ownerLine = owner.map { #""owner": "\#($0)", "# } ?? ""
        return #"{\#(ownerLine)"name": "n", "version": "1.0", "type": "zone-dataset", "os": "smartos"\#(extra)}"#
    }

    func create(_ text: String, account: String? = nil, mode: ServerMode = .public) throws -> JSONObject {
        let value = try JSONValue.parse(text)
        return try ImageDraft.forCreate(body: value, account: account, mode: mode, uuid: uuid)
    }

    func createError(_ text: String, account: String? = nil, mode: ServerMode = .public) throws -> IMGAPIError? {
        let value = try JSONValue.parse(text)
        return draftError { () throws(IMGAPIError) in try ImageDraft.forCreate(body: value, account: account, mode: mode, uuid: uuid) }
    }

    func testServerSetFields() throws {
        let record = try create(body())
        XCTAssertEqual(record["uuid"], .string(uuid))
        XCTAssertEqual(record["v"], .number(2))
        XCTAssertEqual(record["state"], .string("unactivated"))
        XCTAssertEqual(record["activated"], .bool(false))
        XCTAssertEqual(record["disabled"], .bool(false))
        XCTAssertEqual(record["public"], .bool(true))
        XCTAssertEqual(record["acl"], .array([]))
        XCTAssertEqual(record["files"], .array([]))
        XCTAssertEqual(ManifestValidator(mode: .public).validate(record), [])
    }

    func testPublicDefaultsToTheMode() throws {
        XCTAssertEqual(try create(body(), mode: .public)["public"], .bool(true))
        XCTAssertEqual(try create(body(), mode: .private)["public"], .bool(false))
        XCTAssertEqual(try create(body(#", "public": false"#), mode: .private)["public"], .bool(false))
    }

    func testConflictingPublicFailsValidation() throws {
        let error = try createError(body(#", "public": false"#), mode: .public)
        XCTAssertEqual(error?.status, 422)
        XCTAssertEqual(error?.code, "ValidationFailed")
        XCTAssertEqual(error?.errors, [.invalid("public", "private images are not allowed on a public Images API")])
        XCTAssertEqual(try createError(body(#", "public": true"#), mode: .private)?.errors?.fields, ["public"])
    }

    func testStateIsNotAllowed() throws {
        let error = try createError(body(#", "state": "active""#))
        XCTAssertEqual(error, IMGAPIError(status: 422, code: "ValidationFailed", message: "invalid image data: state",
                                          errors: [FieldError(field: "state", code: "NotAllowed", message: "Parameter cannot be set")]))
    }

    func testFilesAndChannelsAndIconAreDropped() throws {
        let record = try create(body(#", "files": [{"sha1": "x", "size": 1, "compression": "gzip"}], "channels": ["dev"], "icon": true"#))
        XCTAssertEqual(record["files"], .array([]))
        XCTAssertNil(record["channels"])
        XCTAssertNil(record["icon"])
    }

    func testExtraParametersAreRefused() throws {
        let error = try createError(body(#", "a": 1, "uuid": "\#(TestData.otherUUID)", "published_at": "2020-01-02T03:04:05Z", "urn": "x", "activated": true"#))
        XCTAssertEqual(error?.status, 422)
        XCTAssertEqual(error?.code, "InvalidParameter")
        XCTAssertEqual(error?.message, #"invalid extra parameters: "a", "uuid", "published_at", "urn", "activated""#)
        XCTAssertEqual(error?.errors, ["a", "uuid", "published_at", "urn", "activated"].map { FieldError(field: $0, code: "Invalid") })
    }

    func testZvolOnlyFields() throws {
        let zvolFields = #", "nic_driver": "virtio", "disk_driver": "virtio", "cpu_type": "host", "image_size": 10240"#
        XCTAssertEqual(try createError(body(zvolFields))?.errors?.fields, ["nic_driver", "disk_driver", "cpu_type", "image_size"])
        let zvol = body(zvolFields).replacingOccurrences(of: "zone-dataset", with: "zvol")
        let record = try create(zvol)
        XCTAssertEqual(record["image_size"], .number(10240))
        XCTAssertEqual(try createError(body().replacingOccurrences(of: "zone-dataset", with: "zvol"))?.errors?.fields,
                       ["nic_driver", "disk_driver", "cpu_type", "image_size"])
    }

    func testAccountAndOwner() throws {
        XCTAssertEqual(try create(body(owner: nil), account: TestData.owner)["owner"], .string(TestData.owner))
        XCTAssertEqual(try create(body(), account: TestData.owner)["owner"], .string(TestData.owner))
        let mismatch = try createError(body(), account: TestData.otherUUID)
        XCTAssertEqual(mismatch?.code, "InvalidParameter")
        XCTAssertEqual(mismatch?.errors?.fields, ["owner"])
        let badAccount = try createError(body(), account: "nobody")
        XCTAssertEqual(badAccount?.code, "InvalidParameter")
        XCTAssertEqual(badAccount?.errors?.fields, ["account"])
    }

    func testMissingOrInvalidOwnerIsAValidationError() throws {
        let missing = try createError(body(owner: nil))
        XCTAssertEqual(missing?.status, 422)
        XCTAssertEqual(missing?.code, "ValidationFailed")
        XCTAssertEqual(missing?.errors, [.missing("owner")])
        let invalid = try createError(body(owner: "admin"))
        XCTAssertEqual(invalid?.code, "ValidationFailed")
        XCTAssertEqual(invalid?.errors, [.invalid("owner")])
    }

    func testValidationFailureListsEveryField() throws {
        let error = try createError(#"{"owner": "\#(TestData.owner)", "version": "1 0", "os": "plan9"}"#)
        XCTAssertEqual(error?.message, "invalid image data: name, version, type, os")
        XCTAssertEqual(error?.errors?.map(\.code), ["MissingParameter", "Invalid", "MissingParameter", "Invalid"])
    }

    func testBodyMustBeAnObject() throws {
        for text in ["[]", "\"x\"", "null", "1"] {
            let error = try createError(text)
            XCTAssertEqual(error?.status, 422, text)
            XCTAssertEqual(error?.code, "InvalidParameter", text)
        }
    }

    func testNormalisations() throws {
        let record = try create(body(#", "disabled": "true", "acl": "\#(TestData.otherUUID)", "billing_tags": "gold", "generate_passwords": "false""#))
        XCTAssertEqual(record["disabled"], .bool(true))
        XCTAssertEqual(record["state"], .string("unactivated"))
        XCTAssertEqual(record["acl"], .array([.string(TestData.otherUUID)]))
        XCTAssertEqual(record["billing_tags"], .array([.string("gold")]))
        XCTAssertEqual(record["generate_passwords"], .bool(false))
    }

    func testExplicitVersionIsKept() throws {
        XCTAssertEqual(try create(body(#", "v": 2"#))["v"], .number(2))
        XCTAssertEqual(try createError(body(#", "v": -1"#))?.errors?.fields, ["v"])
    }

    func testOriginIsValidatedButNotLookedUp() throws {
        XCTAssertEqual(try create(body(#", "origin": "\#(TestData.otherUUID)""#))["origin"], .string(TestData.otherUUID))
        XCTAssertEqual(try createError(body(#", "origin": "nope""#))?.errors?.fields, ["origin"])
    }
}
