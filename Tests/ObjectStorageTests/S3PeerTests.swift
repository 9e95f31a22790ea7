import AsyncHTTPClient
import Foundation
import NIOCore
import ObjectStorage
import Synchronization
import XCTest

/// The S3 client against a real S3-protocol server with signature checking on: moto_server,
/// started by `scripts/s3-peer` (from `scripts/test`), which exports where it is and the key.
final class S3PeerTests: XCTestCase {
    var client: S3Client!
    var location: S3Location!
    var credentials: S3Credentials!

    override func setUp() async throws {
        let environment = ProcessInfo.processInfo.environment
        guard let endpoint = environment["IMGAPID_TEST_S3_ENDPOINT"], let id = environment["IMGAPID_TEST_S3_KEY_ID"],
              let secret = environment["IMGAPID_TEST_S3_SECRET"] else {
            let why = "no S3 peer: run `eval \"$(scripts/s3-peer)\"` first (scripts/test does)"
            if environment["CI"] == "true" { throw TestFailureMessage(why) }
            throw XCTSkip(why)
        }
        // Each test under a prefix of its own, in the bucket the script made.
        location = try S3Location(parsing: "s3://imgapid-test/\(UUID().uuidString)?endpoint=\(endpoint)&region=us-east-1")
        credentials = S3Credentials(accessKeyID: id, secretAccessKey: secret)
        client = S3Client(location: location, credentials: credentials)
    }

    static func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed &* 0x9E3779B97F4A7C15 | 1
        return (0..<count).map { _ in
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return UInt8(truncatingIfNeeded: state)
        }
    }

    static func read(_ response: HTTPClientResponse) async throws -> [UInt8] {
        Array(try await response.body.collect(upTo: 64 * 1024 * 1024).readableBytesView)
    }

    /// `count` bytes as a body of 64 KiB chunks, failing after `failAfter` bytes when given.
    static func body(_ bytes: [UInt8], failAfter: Int? = nil) -> AsyncThrowingStream<ByteBuffer, any Error> {
        AsyncThrowingStream { continuation in
            var offset = 0
            while offset < bytes.count {
                if let failAfter, offset >= failAfter {
                    continuation.finish(throwing: TestFailureMessage("the source broke off"))
                    return
                }
                let end = min(offset + 65_536, bytes.count)
                continuation.yield(ByteBuffer(bytes: bytes[offset..<end]))
                offset = end
            }
            continuation.finish()
        }
    }

    func testObjectsPutReadRangedDescribedAndDeleted() async throws {
        let bytes = Self.bytes(300_000, seed: 1)
        try await client.putObject("blobs/ab/abc", ByteBuffer(bytes: bytes))
        let info = try await client.headObject("blobs/ab/abc")
        XCTAssertEqual(info?.size, Int64(bytes.count))
        let whole = try await Self.read(try await client.getObject("blobs/ab/abc"))
        XCTAssertEqual(whole, bytes)
        let part = try await Self.read(try await client.getObject("blobs/ab/abc", range: 1000..<2000))
        XCTAssertEqual(part, Array(bytes[1000..<2000]))
        try await client.deleteObject("blobs/ab/abc")
        let gone = try await client.headObject("blobs/ab/abc")
        XCTAssertNil(gone)
        try await client.deleteObject("blobs/ab/abc")  // deleting nothing is no error
        do {
            _ = try await client.getObject("blobs/ab/abc")
            XCTFail("a missing object was read")
        } catch let error as S3Error {
            XCTAssertEqual(error.status, 404)
            XCTAssertEqual(error.code, "NoSuchKey")
        }
    }

    /// A file larger than a part goes up as a multipart upload, streamed, and reads back whole.
    func testMultipartUploadStreamsPartsAndReadsBack() async throws {
        let bytes = Self.bytes(12 * 1024 * 1024 + 12_345, seed: 2)
        let stored = try await client.upload("big", from: Self.body(bytes), partSize: 5 * 1024 * 1024)
        XCTAssertEqual(stored, Int64(bytes.count))
        let info = try await client.headObject("big")
        XCTAssertEqual(info?.size, Int64(bytes.count))
        XCTAssertTrue(info?.etag.hasSuffix("-3\"") == true, "three parts: \(info?.etag ?? "none")")
        let back = try await Self.read(try await client.getObject("big"))
        XCTAssertTrue(back == bytes)
        let small = Self.bytes(1000, seed: 3)
        try await client.upload("small", from: Self.body(small), partSize: 5 * 1024 * 1024)
        let smallBack = try await Self.read(try await client.getObject("small"))
        XCTAssertEqual(smallBack, small)
        let pending = try await client.incompleteUploads()
        XCTAssertEqual(pending.count, 0)
    }

    /// A source that breaks off mid-upload: the multipart upload is aborted, no object and
    /// no part is left.
    func testFailedUploadIsAbortedAndLeavesNothing() async throws {
        let bytes = Self.bytes(11 * 1024 * 1024, seed: 4)
        do {
            try await client.upload("broken", from: Self.body(bytes, failAfter: 7 * 1024 * 1024), partSize: 5 * 1024 * 1024)
            XCTFail("an upload whose source broke off succeeded")
        } catch is TestFailureMessage {}
        let head = try await client.headObject("broken")
        XCTAssertNil(head)
        let pending = try await client.incompleteUploads()
        XCTAssertEqual(pending.map(\.key), [])

        // One started and left is listed, with its age, and can be aborted.
        let id = try await client.createMultipartUpload("left")
        let listed = try await client.incompleteUploads()
        XCTAssertEqual(listed.map(\.uploadID), [id])
        XCTAssertEqual(listed.first?.key, "left")
        // moto answers one fixed `Initiated` time (2010-11-10T20:48:33Z) for every upload: that it was read is what can be checked.
        XCTAssertEqual(listed.first?.initiated, ISO8601DateFormatter().date(from: "2010-11-10T20:48:33Z"))
        // The clean-up pass leaves an upload younger than a day and aborts an older one.
        let started = try XCTUnwrap(listed.first?.initiated)
        let young = try await client.abortIncompleteUploads(olderThan: .seconds(86_400), now: started.addingTimeInterval(3600))
        XCTAssertEqual(young, 0)
        let old = try await client.abortIncompleteUploads(olderThan: .seconds(86_400), now: started.addingTimeInterval(90_000))
        XCTAssertEqual(old, 1)
        let after = try await client.incompleteUploads()
        XCTAssertEqual(after.count, 0)
    }

    /// The peer checks signatures: a wrong secret is refused, and nothing is stored.
    func testWrongSecretIsRefused() async throws {
        let forged = S3Client(location: location, credentials: S3Credentials(accessKeyID: credentials.accessKeyID,
                                                                             secretAccessKey: "not-the-secret"))
        do {
            try await forged.putObject("forged", ByteBuffer(string: "x"))
            XCTFail("a request signed with the wrong secret was accepted")
        } catch let error as S3Error {
            XCTAssertEqual(error.status, 403)
            XCTAssertEqual(error.code, "SignatureDoesNotMatch")
            XCTAssertTrue("\(error)".contains("PUT forged"), "\(error)")
        }
        let head = try await client.headObject("forged")
        XCTAssertNil(head)
    }
}

struct TestFailureMessage: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension S3PeerTests {
    /// A part the server fails once is sent again, and the upload completes whole; a part
    /// that keeps failing ends the upload, aborted.
    func testFailedPartIsRetriedAndPersistentFailureAborts() async throws {
        let failed = Mutex(Set<String>())
        let proxy = try FaultyProxy(to: location.endpoint) { method, uri in
            guard method == "PUT", uri.contains("partNumber=2") else { return false }
            let key = uri.contains("/flaky?") ? "flaky" : "broken"
            if key == "broken" { return true }
            return failed.withLock { $0.insert(key).inserted }
        }
        defer { proxy.stop() }
        let viaProxy = S3Location(bucket: location.bucket, prefix: location.prefix, endpoint: "http://127.0.0.1:\(proxy.port)",
                                  region: location.region)
        let flaky = S3Client(location: viaProxy, credentials: credentials)
        let bytes = Self.bytes(11 * 1024 * 1024, seed: 5)
        try await flaky.upload("flaky", from: Self.body(bytes), partSize: 5 * 1024 * 1024)
        let back = try await Self.read(try await client.getObject("flaky"))
        XCTAssertTrue(back == bytes, "the object is whole after a retried part")
        XCTAssertEqual(proxy.requests.filter { $0.contains("partNumber=2") }.map { String($0.suffix(3)) }, ["500", "200"])

        do {
            try await flaky.upload("broken", from: Self.body(bytes), partSize: 5 * 1024 * 1024)
            XCTFail("an upload whose part always fails succeeded")
        } catch let error as S3Error {
            XCTAssertEqual(error.status, 500)
            XCTAssertTrue("\(error)".contains("part 2 of"), "\(error)")
        }
        XCTAssertEqual(proxy.requests.filter { $0.contains("/broken?") && $0.contains("partNumber=2") }.count, 3, "three attempts")
        XCTAssertTrue(proxy.requests.contains { $0.hasPrefix("DELETE") && $0.contains("broken?uploadId=") }, "aborted: \(proxy.requests)")
        let pending = try await client.incompleteUploads()
        XCTAssertEqual(pending.count, 0)
        let head = try await client.headObject("broken")
        XCTAssertNil(head)
    }
}
