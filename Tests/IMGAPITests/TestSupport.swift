import Foundation
import XCTest
@testable import IMGAPI

/// Shared test data and small helpers for the IMGAPI tests.
enum TestData {
    /// `Tests/Fixtures`, found from this file's path.
    static let fixturesDirectory: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // IMGAPITests
        .deletingLastPathComponent()  // Tests
        .appendingPathComponent("Fixtures")

    /// The real manifests at the top of the repository (`manifests/`).
    static let manifestsDirectory = fixturesDirectory.deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("manifests")
    static let exchangesDirectory = fixturesDirectory.appendingPathComponent("reference-exchanges")

    static func text(_ url: URL) throws -> String {
        try String(contentsOf: url, encoding: .utf8)
    }

    static let owner = "930896af-bf8c-48d4-885c-6573a94b1853"
    static let imageUUID = "892e540d-0e60-4b9d-a357-f78620bfc0f5"
    static let otherUUID = "3b0d1c5e-9b7a-4c2e-8f60-7d2a9e4b5c10"

    /// A minimal valid unactivated record, as CreateImage stores it in public mode.
    static func record() -> JSONObject {
        JSONObject([
            ("v", .number(2)), ("uuid", .string(imageUUID)), ("owner", .string(owner)),
            ("name", .string("base")), ("version", .string("1.0.0")), ("state", .string("unactivated")),
            ("disabled", .bool(false)), ("activated", .bool(false)), ("public", .bool(true)),
            ("type", .string("zone-dataset")), ("os", .string("smartos")), ("files", .array([])), ("acl", .array([])),
        ])
    }

    /// A valid file entry as the store keeps it, internal keys included.
    static func storedFile(compression: String = "gzip") -> JSONValue {
        .object(JSONObject([
            ("sha1", .string("5b126cd58da1b4fb0803f8e2bb44e88ea8a708c3")), ("size", .number(10485760)),
            ("compression", .string(compression)), ("sha256", .string(String(repeating: "a", count: 64))),
            ("contentMD5", .string("1B2M2Y8AsgTpgAmY7PhCfg==")), ("mtime", .string("2026-11-22T02:41:36.000Z")),
            ("stor", .string("local")),
        ]))
    }
}

func parseObject(_ text: String, file: StaticString = #filePath, line: UInt = #line) throws -> JSONObject {
    try XCTUnwrap(JSONValue.parse(text).objectValue, "not a JSON object", file: file, line: line)
}

/// The error a throwing draft call ends with, or nil when it succeeds.
func draftError(_ call: () throws(IMGAPIError) -> JSONObject) -> IMGAPIError? {
    do {
        _ = try call()
        return nil
    } catch {
        return error
    }
}

extension Array where Element == FieldError {
    var fields: [String] { map(\.field) }
}

extension JSONObject {
    /// The view without `files[].digest`, our addition to the reference's output, for byte comparisons with it.
    var withoutFileDigests: JSONObject {
        var view = self
        view["files"] = self["files"].map { files in
            .array((files.arrayValue ?? []).map { file in
                guard var o = file.objectValue else { return file }
                o["digest"] = nil
                return .object(o)
            })
        }
        return view
    }
}
