import XCTest
@testable import IMGAPI

/// The `requirements` rules of `ManifestValidator`.
final class ManifestRequirementsTests: XCTestCase {
    func errors(_ requirements: String) throws -> [FieldError] {
        var record = TestData.record()
        record["requirements"] = try JSONValue.parse(requirements)
        return ManifestValidator(mode: .public).validate(record)
    }

    func assertValid(_ requirements: String, line: UInt = #line) throws {
        XCTAssertEqual(try errors(requirements), [], requirements, line: line)
    }

    func assertInvalid(_ requirements: String, field: String, line: UInt = #line) throws {
        let found = try errors(requirements)
        XCTAssertEqual(found.fields, [field], requirements, line: line)
        XCTAssertEqual(found.map(\.code), ["Invalid"], requirements, line: line)
    }

    func testMustBeAnObject() throws {
        try assertValid("{}")
        try assertInvalid("[]", field: "requirements")
        try assertInvalid(#""lx""#, field: "requirements")
        try assertInvalid("null", field: "requirements")
    }

    func testNetworks() throws {
        try assertValid(#"{"networks": [{"name": "net0", "description": "public"}]}"#)
        try assertValid(#"{"networks": []}"#)
        try assertInvalid(#"{"networks": {"name": "net0"}}"#, field: "requirements.networks")
        try assertInvalid(#"{"networks": [{"name": "net0"}]}"#, field: "requirements.networks")
        try assertInvalid(#"{"networks": [{"name": "net0", "description": "x", "vlan": 1}]}"#, field: "requirements.networks")
        try assertInvalid(#"{"networks": ["net0"]}"#, field: "requirements.networks")
    }

    func testBrandAndSSHKey() throws {
        try assertValid(#"{"brand": "lx", "ssh_key": true}"#)
        try assertValid(#"{"brand": "", "ssh_key": false}"#)
        try assertInvalid(#"{"brand": 5}"#, field: "requirements.brand")
        try assertInvalid(#"{"ssh_key": "yes"}"#, field: "requirements.ssh_key")
    }

    func testRAM() throws {
        try assertValid(#"{"min_ram": 512, "max_ram": 8192}"#)
        try assertValid(#"{"min_ram": 1024, "max_ram": 1024}"#)
        try assertValid(#"{"min_ram": 0}"#)
        try assertInvalid(#"{"min_ram": 1.5}"#, field: "requirements.min_ram")
        try assertInvalid(#"{"max_ram": "1024"}"#, field: "requirements.max_ram")
        try assertInvalid(#"{"min_ram": 2048, "max_ram": 1024}"#, field: "requirements.max_ram")
        XCTAssertEqual(try errors(#"{"min_ram": 2048, "max_ram": 1024}"#).first?.message,
                       "min_ram must be <= max_ram, but: min_ram=2048, max_ram=1024")
    }

    func testPlatforms() throws {
        try assertValid(#"{"min_platform": {"7.0": "20141030T081701Z"}, "max_platform": {"7.0": "20991231T235959Z", "6.5": "20120101T000000Z"}}"#)
        for field in ["min_platform", "max_platform"] {
            try assertInvalid(#"{"\#(field)": {}}"#, field: "requirements.\(field)")
            try assertInvalid(#"{"\#(field)": "20141030T081701Z"}"#, field: "requirements.\(field)")
            for stamp in ["20111231T000000Z", "20141330T081701Z", "20141000T081701Z", "20141032T081701Z", "20141030T241701Z",
                          "20141030T086001Z", "20141030T081760Z", "20141030X081701Z", "20141030T081701", "2014103T081701Z",
                          "2014-10-30T08:17:01Z", "abcd1030T081701Z"] {
                try assertInvalid(#"{"\#(field)": {"7.0": "\#(stamp)"}}"#, field: "requirements.\(field)")
            }
            try assertInvalid(#"{"\#(field)": {"7.0": 20141030}}"#, field: "requirements.\(field)")
        }
        XCTAssertEqual(try errors(#"{"min_platform": {"7.0": "2014"}}"#).first?.message,
                       "invalid image \"requirements.min_platform\" entry: \"7.0: 2014\" not a valid platform version")
    }

    func testBootromOnlyWithBhyve() throws {
        try assertValid(#"{"brand": "bhyve", "bootrom": "uefi"}"#)
        try assertValid(#"{"brand": "bhyve", "bootrom": "bios"}"#)
        try assertInvalid(#"{"brand": "kvm", "bootrom": "uefi"}"#, field: "requirements.bootrom")
        try assertInvalid(#"{"bootrom": "bios"}"#, field: "requirements.bootrom")
        try assertInvalid(#"{"brand": "bhyve", "bootrom": "coreboot"}"#, field: "requirements.bootrom")
    }

    func testUnknownRequirementNamesTheBareKey() throws {
        let found = try errors(#"{"brand": "lx", "cpu_cap": 100, "gpu": true}"#)
        XCTAssertEqual(found, [.invalid("cpu_cap", "unsupported requirement \"cpu_cap\""), .invalid("gpu", "unsupported requirement \"gpu\"")])
    }
}

/// The `files` rules of `ManifestValidator`.
final class ManifestFilesTests: XCTestCase {
    func errors(type: String = "zone-dataset", activated: Bool = true, files: [JSONValue]?) -> [FieldError] {
        var record = TestData.record()
        record["type"] = .string(type)
        record["activated"] = .bool(activated)
        record["state"] = .string(activated ? "active" : "unactivated")
        record["published_at"] = .string("2026-11-22T02:41:36.792Z")
        record["files"] = files.map(JSONValue.array)
        return ManifestValidator(mode: .public).validate(record)
    }

    func file(_ change: (inout JSONObject) -> Void) -> JSONValue {
        var file = TestData.storedFile().objectValue ?? JSONObject()
        change(&file)
        return .object(file)
    }

    func testStoredFileWithInternalKeysIsValid() {
        XCTAssertEqual(errors(files: [TestData.storedFile()]), [])
        for compression in ImageCompression.allCases {
            XCTAssertEqual(errors(files: [TestData.storedFile(compression: compression.rawValue)]), [], compression.rawValue)
        }
    }

    func testRequiredOnceActivated() {
        XCTAssertEqual(errors(files: nil), [.missing("files", "if activated is \"true\" files must be present")])
        XCTAssertEqual(errors(activated: false, files: nil), [])
        XCTAssertEqual(errors(activated: false, files: []), [])
    }

    func testAtMostOneFileExceptLXD() {
        XCTAssertEqual(errors(files: [TestData.storedFile(), TestData.storedFile()]).fields, ["files"])
        XCTAssertEqual(errors(type: "lxd", files: [TestData.storedFile(), TestData.storedFile()]), [])
        XCTAssertEqual(errors(type: "lxd", files: [TestData.storedFile(), TestData.storedFile(), TestData.storedFile()]).fields, ["files"])
    }

    func testEachFileNeedsSHA1SizeAndCompression() {
        XCTAssertEqual(errors(files: [file { $0["sha1"] = nil }]).fields, ["files"])
        XCTAssertEqual(errors(files: [file { $0["sha1"] = .string("") }]).fields, ["files"])
        XCTAssertEqual(errors(files: [file { $0["size"] = .number(0) }]).fields, ["files"])
        XCTAssertEqual(errors(files: [file { $0["compression"] = nil }]).fields, ["files"])
        XCTAssertEqual(errors(files: [file { $0["sha1"] = nil; $0["size"] = nil }]).fields, ["files", "files"])
        XCTAssertEqual(errors(files: [.string("file0")]).fields, ["files"])
    }

    func testZstdIsRefused() {
        let found = errors(files: [TestData.storedFile(compression: "zstd")])
        XCTAssertEqual(found, [.invalid("files", "invalid image \"files\": invalid compression \"zstd\" (must be one of gzip, bzip2, xz, none)")])
        XCTAssertEqual(errors(files: [TestData.storedFile(compression: "lz4")]).fields, ["files"])
    }

    func testNotAnArray() {
        var record = TestData.record()
        record["files"] = .object(JSONObject())
        XCTAssertEqual(ManifestValidator(mode: .public).validate(record).fields, ["files"])
    }
}
