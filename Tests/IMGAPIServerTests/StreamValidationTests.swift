import Foundation
import IMGAPI
import XCTest

/// Files of ZFS image types are checked as ZFS send streams as they arrive (decompressed as
/// declared), and an incremental stream must start from its origin's snapshot. Anything
/// called an image file was accepted, and `imgadm import` failed later on a compute node.
/// The streams are real ones from zfs-fuse.
final class StreamValidationTests: XCTestCase {
    var server: ServerProcess!
    var client: TestClient!
    var pool: ZFSPool!
    var work: URL!
    let base = "5a000000-0000-4000-8000-000000000001"

    override func setUp() async throws {
        pool = try ZFSPool()
        work = try ServerProcess.temporaryDirectory()
        server = try ServerProcess(["--trust-network", "127.0.0.1/32"])
        server.validatesStreams = true
        try server.start()
        client = TestClient(server)
    }

    override func tearDown() async throws {
        server?.stop()
        pool?.destroy()
        if let work { try? FileManager.default.removeItem(at: work) }
    }

    /// Streams of one dataset: full at @s1, incremental @s1→@s2, and `zfs send -p` at @s1.
    func makeStreams() throws -> (full: [UInt8], incremental: [UInt8], withProperties: [UInt8], s1: String) {
        let dataset = "\(pool.name)/src"
        try ZFSPool.shell("zfs create \(dataset) && echo one > '\(pool.path(dataset).path)/f' && zfs snapshot \(dataset)@s1")
        try ZFSPool.shell("dd if=/dev/urandom of='\(pool.path(dataset).path)/g' bs=64k count=4 2>/dev/null && zfs snapshot \(dataset)@s2")
        func send(_ arguments: String) throws -> [UInt8] {
            let file = work.appendingPathComponent(UUID().uuidString)
            try ZFSPool.shell("zfs send \(arguments) > '\(file.path)'")
            return Array(try Data(contentsOf: file))
        }
        let s1 = try ZFSPool.shell("zfs get -Hp -o value guid \(dataset)@s1").trimmingCharacters(in: .whitespacesAndNewlines)
        return (try send("\(dataset)@s1"), try send("-i \(dataset)@s1 \(dataset)@s2"), try send("-p \(dataset)@s1"), s1)
    }

    /// `bytes` through `command` (gzip -c, bzip2 -c, xz -c).
    func compress(_ bytes: [UInt8], _ command: String) throws -> [UInt8] {
        let input = work.appendingPathComponent(UUID().uuidString)
        try Data(bytes).write(to: input)
        try ZFSPool.shell("\(command) < '\(input.path)' > '\(input.path).out'")
        return Array(try Data(contentsOf: URL(fileURLWithPath: input.path + ".out")))
    }

    /// Imports an unactivated zone-dataset image (with `origin`), then uploads `file`.
    func upload(_ uuid: String, _ file: [UInt8], compression: String, origin: String? = nil) async throws -> HTTPResult {
        let extra = origin.map { "\"origin\": \"\($0)\"" } ?? ""
        let imported = try await client.postJSON("/images/\(uuid)?action=import", Fixture.manifest(uuid: uuid, extra: extra))
        XCTAssertEqual(imported.status, 200, imported.text)
        return try await client.putFile(uuid, file, query: "compression=\(compression)")
    }

    func expectRefused(_ result: HTTPResult, _ words: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(result.status, 422, result.text, file: file, line: line)
        XCTAssertEqual(result.errorCode, "InvalidImageFile", file: file, line: line)
        XCTAssertTrue(result.text.contains(words), "\(words) not in \(result.text)", file: file, line: line)
    }

    func testRealStreamsInEveryCompressionAreAccepted() async throws {
        let streams = try makeStreams()
        let cases: [(String, [UInt8])] = [
            ("gzip", try compress(streams.full, "gzip -c")), ("bzip2", try compress(streams.full, "bzip2 -c")),
            ("xz", try compress(streams.full, "xz -c")), ("none", streams.full),
            ("gzip", try compress(streams.withProperties, "gzip -c")),
            ("gzip", try compress(streams.full, "gzip -c") + (try compress([], "gzip -c"))),
        ]
        for (index, (compression, file)) in cases.enumerated() {
            let uuid = String(format: "5a000000-0000-4000-8000-0000000001%02d", index)
            let added = try await upload(uuid, file, compression: compression)
            XCTAssertEqual(added.status, 200, "case \(index) (\(compression)): \(added.text)")
        }
        // The child: incremental from exactly the origin's snapshot.
        expect(try await upload(base, try compress(streams.full, "gzip -c"), compression: "gzip"), status: 200)
        expect(try await client.postJSON("/images/\(base)?action=activate", "{}"), status: 200)
        let child = "5a000000-0000-4000-8000-000000000002"
        let added = try await upload(child, try compress(streams.incremental, "xz -c"), compression: "xz", origin: base)
        XCTAssertEqual(added.status, 200, added.text)
    }

    func testBrokenAndMismatchedStreamsAreRefusedWithTheReason() async throws {
        let streams = try makeStreams()
        var flipped = streams.full
        flipped[flipped.count / 2] ^= 0x10
        let refusals: [([UInt8], String, String)] = [
            (try compress(Fixture.bytes(50_000), "gzip -c"), "gzip", "not a valid ZFS send stream (after gzip decompression): it does not start with a ZFS BEGIN record"),
            (try compress(Array(streams.full.prefix(streams.full.count - 600)), "gzip -c"), "gzip", "it is cut short: no END record"),
            (try compress(flipped, "gzip -c"), "gzip", "checksum mismatch"),
            (Array(try compress(streams.full, "bzip2 -c").dropLast(40)), "bzip2", "the bzip2 data is cut short"),
            (try compress(streams.full, "gzip -c"), "xz", "not xz data"),
            (try compress(streams.incremental, "gzip -c"), "gzip", "has no origin, but its stream is incremental from snapshot guid \(streams.s1)"),
        ]
        for (index, (file, compression, words)) in refusals.enumerated() {
            let uuid = String(format: "5a000000-0000-4000-8000-0000000002%02d", index)
            expectRefused(try await upload(uuid, file, compression: compression), words)
        }
        try server.assertStored(images: refusals.count, blobs: 0)

        // A full stream for an image with an origin, and an incremental one from another snapshot.
        let otherOrigin = "5a000000-0000-4000-8000-000000000003"
        expect(try await upload(otherOrigin, try compress(streams.full, "gzip -c"), compression: "gzip"), status: 200)
        expect(try await client.postJSON("/images/\(otherOrigin)?action=activate", "{}"), status: 200)
        expectRefused(try await upload("5a000000-0000-4000-8000-000000000004", try compress(streams.full, "gzip -c"),
                                       compression: "gzip", origin: otherOrigin), "but its stream is a full one")
        let secondPool = try ZFSPool()
        defer { secondPool.destroy() }
        try ZFSPool.shell("zfs create \(secondPool.name)/x && zfs snapshot \(secondPool.name)/x@a && zfs snapshot \(secondPool.name)/x@b")
        let unrelated = work.appendingPathComponent("unrelated")
        try ZFSPool.shell("zfs send -i \(secondPool.name)/x@a \(secondPool.name)/x@b | gzip -c > '\(unrelated.path)'")
        expectRefused(try await upload("5a000000-0000-4000-8000-000000000005", Array(try Data(contentsOf: unrelated)),
                                       compression: "gzip", origin: otherOrigin), "but origin \(otherOrigin) is snapshot guid \(streams.s1)")
    }

    /// Mirrors check what they copy the same way, against the upstream manifest's origin.
    func testMirrorRefusesABrokenStreamAndCopiesAGoodOne() async throws {
        let streams = try makeStreams()
        let upstream = try ServerProcess(["--trust-network", "127.0.0.1/32"])
        try upstream.start()
        defer { upstream.stop() }
        let (good, broken) = ("5a000000-0000-4000-8000-000000000301", "5a000000-0000-4000-8000-000000000302")
        try await TestClient(upstream).publish(good, name: "good", file: try compress(streams.full, "gzip -c"))
        try await TestClient(upstream).publish(broken, name: "broken", file: try compress(Fixture.bytes(30_000), "gzip -c"))
        let storage = work.appendingPathComponent("mirrored")
        let run = try ServerProcess.run(["mirror", "--from", upstream.baseURL, "--storage", storage.path, "--json"])
        XCTAssertEqual(run.status, 1, run.output)
        let summary = try XCTUnwrap(try? JSONValue.parse(Array(run.output.utf8)).objectValue, run.output)
        XCTAssertEqual(MirrorTests.results(summary), [good: "copied", broken: "failed"])
        XCTAssertTrue(run.output.contains("not a valid ZFS send stream (after gzip decompression)"), run.output)
    }

    /// A bundle of real streams imports with its streams checked and their lineage kept; a
    /// bundle from a server that checks nothing is refused whole when its file is no stream.
    func testBundleImportsCheckStreams() async throws {
        let streams = try makeStreams()
        let child = "5a000000-0000-4000-8000-000000000402"
        expect(try await upload(base, try compress(streams.full, "gzip -c"), compression: "gzip"), status: 200)
        expect(try await client.postJSON("/images/\(base)?action=activate", "{}"), status: 200)
        expect(try await upload(child, try compress(streams.incremental, "xz -c"), compression: "xz", origin: base), status: 200)
        expect(try await client.postJSON("/images/\(child)?action=activate", "{}"), status: 200)
        let bundle = work.appendingPathComponent("streams.tar").path
        let exported = try ServerProcess.run(["export", "--storage", server.storage.path, "--to", bundle, "--uuid", child])
        XCTAssertEqual(exported.status, 0, exported.output)
        let target = work.appendingPathComponent("target").path
        let imported = try ServerProcess.run(["import-bundle", bundle, "--storage", target])
        XCTAssertEqual(imported.status, 0, imported.output)
        XCTAssertTrue(imported.output.contains("2 imported"), imported.output)
        let check = try ServerProcess.run(["check", "--storage", target])
        XCTAssertEqual(check.status, 0, check.output)
        XCTAssertFalse(check.output.contains("unvalidated"), "the streams were checked on import: \(check.output)")

        let lax = try ServerProcess(["--trust-network", "127.0.0.1/32"])
        try lax.start()
        defer { lax.stop() }
        let placeholder = "5a000000-0000-4000-8000-000000000403"
        try await TestClient(lax).publish(placeholder, name: "placeholder", file: try compress(Fixture.bytes(30_000), "gzip -c"))
        let laxBundle = work.appendingPathComponent("lax.tar").path
        XCTAssertEqual(try ServerProcess.run(["export", "--storage", lax.storage.path, "--to", laxBundle]).status, 0)
        let refused = try ServerProcess.run(["import-bundle", laxBundle, "--storage", target])
        XCTAssertEqual(refused.status, 1, refused.output)
        XCTAssertTrue(refused.output.contains("image \(placeholder)") && refused.output.contains("not a valid ZFS send stream"), refused.output)
    }
}
