import Foundation
import XCTest
@testable import IMGAPI

/// Real manifests from public image servers: imported, activated, and served back unchanged.
final class FixtureManifestTests: XCTestCase {
    func fixtures() throws -> [(name: String, manifest: JSONObject)] {
        let names = try FileManager.default.contentsOfDirectory(atPath: TestData.manifestsDirectory.path)
            .filter { $0.hasSuffix(".json") }
            .sorted()
        XCTAssertEqual(names.count, 3)
        return try names.map { name in
            (name, try parseObject(TestData.text(TestData.manifestsDirectory.appendingPathComponent(name))))
        }
    }

    func testImportActivateAndRenderGivesTheManifestBack() throws {
        for (name, manifest) in try fixtures() {
            let uuid = try XCTUnwrap(manifest["uuid"]?.stringValue, name)
            var record = try ImageDraft.forImport(uuid: uuid, body: .object(manifest), mode: .public)
            XCTAssertEqual(record["state"], .string("unactivated"), name)
            XCTAssertEqual(record["files"], .array([]), name)

            var file = try XCTUnwrap(TestData.storedFile().objectValue)
            let original = try XCTUnwrap(manifest["files"]?.arrayValue?.first?.objectValue, name)
            for key in ["sha1", "size", "compression"] { file[key] = original[key] }
            record["files"] = .array([.object(file)])
            record["activated"] = .bool(true)
            record["state"] = .string(ImageState.active.rawValue)

            XCTAssertEqual(ManifestValidator(mode: .public).validate(record), [], name)
            let view = ImageView.render(record, mode: .public).withoutFileDigests
            XCTAssertEqual(view, manifest, name)
            XCTAssertEqual(view.prettyPrinted(), JSONValue.object(manifest).prettyPrinted(), name)
        }
    }

    func testFixturesAreRefusedOnAPrivateServer() throws {
        for (name, manifest) in try fixtures() {
            let uuid = try XCTUnwrap(manifest["uuid"]?.stringValue, name)
            let error = draftError { () throws(IMGAPIError) in try ImageDraft.forImport(uuid: uuid, body: .object(manifest), mode: .private) }
            XCTAssertEqual(error?.errors?.fields, ["public"], name)
        }
    }
}
