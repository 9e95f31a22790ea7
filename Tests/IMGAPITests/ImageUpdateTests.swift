import XCTest
@testable import IMGAPI

final class ImageUpdateTests: XCTestCase {
    let record: JSONObject = {
        let draft = try! ImageDraft.forImport(uuid: "0d000000-0000-4000-8000-000000000001", body: .object(JSONObject([
            ("v", .number(2)), ("uuid", .string("0d000000-0000-4000-8000-000000000001")), ("owner", .string(ImageUUID.zero)),
            ("name", .string("n")), ("version", .string("1")), ("type", .string("zone-dataset")), ("os", .string("smartos")),
            ("description", .string("d")),
        ])), mode: .public)
        return draft
    }()

    func apply(_ body: JSONObject, byOperator: Bool = true, channels: [String] = []) throws -> JSONObject {
        try ImageUpdate.apply(.object(body), to: record, byOperator: byOperator, mode: .public, channels: channels)
    }

    func codes(_ body: JSONObject, byOperator: Bool = true) -> [String] {
        do {
            _ = try apply(body, byOperator: byOperator)
            return []
        } catch {
            return (error as? IMGAPIError)?.errors?.map { "\($0.field):\($0.code)" } ?? ["\(error)"]
        }
    }

    func testNullDeletesAndValuesReplace() throws {
        let updated = try apply(JSONObject([("description", .null), ("acl", .string("0d0acc00-0000-4000-8000-000000000000"))]))
        XCTAssertNil(updated["description"])
        XCTAssertEqual(updated["acl"], .array([.string("0d0acc00-0000-4000-8000-000000000000")]), "a bare acl string becomes an array")
        XCTAssertEqual(updated["name"], .string("n"))
    }

    func testEveryRefusedFieldIsListed() {
        XCTAssertEqual(codes(JSONObject([("type", .string("zvol")), ("activated", .bool(true)), ("state", .string("active"))])),
                       ["type:NotAllowed", "activated:NotAllowed", "state:NotAllowed"])
        XCTAssertEqual(codes(JSONObject([("traits", .object(JSONObject()))]), byOperator: false), ["traits:NotAllowed"])
        XCTAssertEqual(codes(JSONObject([("channels", .array([.string("dev")]))])).first, "channels:Invalid")
    }

    func testOperatorFieldsNamedAsSuchToAccounts() throws {
        for field in ["state", "files", "origin"] {
            XCTAssertThrowsError(try apply(JSONObject([(field, .string("x"))]), byOperator: false), field) {
                XCTAssertEqual(($0 as? IMGAPIError)?.errors?.first?.message, "Can only be updated by operators", field)
            }
        }
    }

    func testAnImageStaysInAChannel() throws {
        XCTAssertThrowsError(try apply(JSONObject([("channels", .array([]))]), channels: ["dev"])) {
            XCTAssertEqual(($0 as? IMGAPIError)?.errors?.first?.field, "channels")
        }
        XCTAssertEqual(try apply(JSONObject([("channels", .array([.string("dev")]))]), channels: ["dev"])["channels"],
                       .array([.string("dev")]))
    }

    func testMergedRecordIsValidated() {
        XCTAssertEqual(codes(JSONObject([("public", .bool(false))])).first?.hasPrefix("public"), true)
        XCTAssertEqual(codes(JSONObject([("owner", .string("nope"))])).first?.hasPrefix("owner"), true)
    }

    func testEmptyAndNonObjectBodies() {
        XCTAssertThrowsError(try ImageUpdate.apply(.object(JSONObject()), to: record, byOperator: true, mode: .public, channels: [])) {
            XCTAssertEqual(($0 as? IMGAPIError)?.message, "invalid image update data: no parameters provided")
        }
        XCTAssertThrowsError(try ImageUpdate.apply(.array([]), to: record, byOperator: true, mode: .public, channels: [])) {
            XCTAssertEqual(($0 as? IMGAPIError)?.errors?.first?.field, "body")
        }
    }
}
