import Foundation
import IMGAPI
@testable import ImageStore
import NIOCore
import ObjectStorage
import XCTest

/// The shared store's clean-up against the real S3 peer (`scripts/s3-peer`): what failed
/// publishes left goes, what an image uses stays.
final class SharedStoreCleanupTests: XCTestCase {
    func testCleanupRemovesLeftoversAndKeepsWhatImagesUse() async throws {
        let environment = ProcessInfo.processInfo.environment
        guard let endpoint = environment["IMGAPID_TEST_S3_ENDPOINT"], let id = environment["IMGAPID_TEST_S3_KEY_ID"],
              let secret = environment["IMGAPID_TEST_S3_SECRET"] else {
            if environment["CI"] == "true" { XCTFail("no S3 peer: scripts/test starts one with scripts/s3-peer") }
            throw XCTSkip("no S3 peer: run `eval \"$(scripts/s3-peer)\"` first")
        }
        let location = try S3Location(parsing: "s3://imgapid-test/cleanup-\(UUID().uuidString)?endpoint=\(endpoint)&region=us-east-1")
        let shared = SharedBlobs(client: S3Client(location: location, credentials: S3Credentials(accessKeyID: id, secretAccessKey: secret)))
        let storage = FileManager.default.temporaryDirectory.appendingPathComponent("cleanup-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: storage) }
        let repository = try ImageRepository(storage: storage.path, shared: shared, mode: .public)

        let usedSHA256 = String(repeating: "a", count: 64), orphan = String(repeating: "b", count: 64)
        for sha256 in [usedSHA256, orphan] { try await shared.client.putObject(shared.key(sha256), ByteBuffer(string: "x")) }
        let record = JSONObject([
            ("v", .number(2)), ("uuid", .string("0c000000-0000-4000-8000-000000000001")), ("owner", .string(ImageUUID.zero)),
            ("name", .string("kept")), ("version", .string("1")), ("state", .string("active")), ("activated", .bool(true)),
            ("disabled", .bool(false)), ("public", .bool(true)),
            ("files", .array([ImageFile(sha256: usedSHA256, sha1: String(repeating: "c", count: 40), contentMD5: "x", size: 1,
                                        compression: "none", datasetGUID: nil, mtime: 0).json])),
        ])
        try await repository.catalog.exclusive { writer in try writer.transaction { try writer.save(record) } }
        let interrupted = try await shared.client.createMultipartUpload(shared.key(String(repeating: "d", count: 64)))
        XCTAssertFalse(interrupted.isEmpty)

        // (moto dates every multipart upload 2010-11-10: only the files' ages can be checked here.)
        let young = try await repository.collectSharedGarbage(olderThan: .seconds(3600))
        XCTAssertEqual(young.files, 0, "no file younger than the age given goes")
        let kept = try await shared.client.headObject(shared.key(orphan))
        XCTAssertNotNil(kept)
        let cleaned = try await repository.collectSharedGarbage(olderThan: .zero)
        XCTAssertEqual(young.uploads + cleaned.uploads, 1, "the interrupted upload is aborted")
        XCTAssertEqual(cleaned.files, 1, "the file no image uses is removed")
        let used = try await shared.client.headObject(shared.key(usedSHA256))
        XCTAssertNotNil(used, "the file an image uses stays")
        let gone = try await shared.client.headObject(shared.key(orphan))
        XCTAssertNil(gone)
        let remaining = try await shared.client.incompleteUploads()
        XCTAssertEqual(remaining.count, 0)
    }
}
