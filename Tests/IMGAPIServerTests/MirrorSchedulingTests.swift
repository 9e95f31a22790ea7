import Foundation
import IMGAPI
import XCTest

/// How a mirror run orders, resumes and pages: children selected with their origin, bytes
/// kept by an earlier run that already make the whole file, images still being created
/// upstream, and an upstream whose pages overlap.
extension MirrorTests {
    /// A base and two children, all selected, copied at once: the children wait for the base
    /// (a big file) instead of failing on a missing origin.
    func testChildrenWaitForAnOriginCopiedInTheSameRun() async throws {
        let baseFile = Fixture.bytes(24 * 1024 * 1024, seed: 5)
        try await up.publish(base, name: "base", extra: #""published_at": "2030-01-01T00:00:00Z""#, file: baseFile)
        for (uuid, day) in [(app, "02"), (linux, "03")] {
            try await up.publish(uuid, name: "child", version: day,
                                 extra: "\"origin\": \"\(base)\", \"published_at\": \"2030-01-\(day)T00:00:00Z\"",
                                 file: Fixture.bytes(1000, seed: UInt64(day)!))
        }
        let run = try mirror(["--concurrency", "3"])
        XCTAssertEqual(run.status, 0, run.summary.prettyPrinted())
        XCTAssertEqual(Self.results(run.summary), [base: "copied", app: "copied", linux: "copied"])
    }

    /// The earlier run was stopped after the last byte arrived: the kept bytes are the file,
    /// adopted once verified, with no download at all. Kept bytes longer than the file are
    /// dropped and the file fetched anew.
    func testKeptBytesThatMakeTheWholeFileAreAdopted() async throws {
        let file = Fixture.bytes(300_000, seed: 8)
        try await up.publish(base, name: "whole", file: file)
        let partial = local.storage.appendingPathComponent("partial/\(Fixture.sha1(file))")
        try FileManager.default.createDirectory(at: partial.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(file).write(to: partial)

        let run = try mirror([])
        XCTAssertEqual(run.status, 0, run.summary.prettyPrinted())
        let downloads = try await fileDownloads()
        XCTAssertEqual(downloads, 0, "nothing left to fetch")
        XCTAssertFalse(FileManager.default.fileExists(atPath: partial.path))

        let other = Array(file.reversed())
        try await up.publish(app, name: "longer", file: other)
        let longer = local.storage.appendingPathComponent("partial/\(Fixture.sha1(other))")
        try Data(other + [1, 2, 3]).write(to: longer)
        let second = try mirror([])
        XCTAssertEqual(second.status, 0, second.summary.prettyPrinted())
        XCTAssertEqual(Self.results(second.summary)[app], "copied")
        try local.start()
        let download = try await TestClient(local).get("/images/\(app)/file")
        XCTAssertEqual(download.body, other)
    }

    /// An upstream that lists images still being created (an operator's view): they are not
    /// images yet, so the run passes them by and still succeeds.
    func testImagesStillBeingCreatedUpstreamAreLeftForLater() async throws {
        let bytes = Fixture.bytes(2000, seed: 4)
        let active = Fixture.manifest(uuid: base, extra: """
            "state": "active", "published_at": "2030-01-01T00:00:00Z",
            "files": [{"sha1": "\(Fixture.sha1(bytes))", "size": \(bytes.count), "compression": "gzip"}]
            """)
        let unactivated = Fixture.manifest(uuid: app, extra: #""state": "unactivated", "files": []"#)
        let scripted = try upstream(listing: [active, unactivated], serving: base, active, bytes)
        defer { scripted.stop() }
        let run = try mirror([], from: scripted.baseURL)
        XCTAssertEqual(run.status, 0, run.summary.prettyPrinted())
        XCTAssertEqual(Self.results(run.summary), [base: "copied"])
    }

    /// An upstream of 1000+ images whose second page does not start at the marker (imgadm
    /// keeps such a page): every image is seen once.
    func testOverlappingPagesListEveryImageOnce() async throws {
        let uuids = (0..<1003).map { String(format: "b2000000-0000-4000-8000-%012d", $0) }
        let manifests = uuids.enumerated().map { index, uuid in
            Fixture.manifest(uuid: uuid, name: "img\(index)", extra: """
                "state": "active", "published_at": "2030-01-01T00:00:00Z",
                "files": [{"sha1": "\(String(repeating: "a", count: 40))", "size": 10, "compression": "gzip"}]
                """)
        }
        let scripted = try ScriptedUpstream { _, uri in
            guard uri.hasPrefix("/images") else { return .json(status: 404, "{}") }
            // First page: 1000 images. Then from the marker on, but starting one image early.
            guard uri.contains("marker=") else { return .json(status: 200, "[" + manifests[0..<1000].joined(separator: ",") + "]") }
            return .json(status: 200, "[" + manifests[998...].joined(separator: ",") + "]")
        }
        defer { scripted.stop() }
        let run = try mirror(["--dry-run"], from: scripted.baseURL)
        XCTAssertEqual(run.status, 0, run.summary.prettyPrinted())
        let results = Self.results(run.summary)
        XCTAssertEqual(results.count, uuids.count)
        XCTAssertEqual(run.summary["images"]?.arrayValue?.count, uuids.count, "each image once")
        XCTAssertEqual(scripted.requests.filter { $0.contains("marker=\(uuids[999])") }.count, 1)
    }
}

extension MirrorTests {
    /// A scripted upstream that lists `listing` and serves one image: `manifest` and `bytes`.
    func upstream(listing: [String], serving uuid: String, _ manifest: String, _ bytes: [UInt8]) throws -> ScriptedUpstream {
        try ScriptedUpstream { _, uri in
            switch uri.split(separator: "?").first.map(String.init) ?? uri {
            case "/images": return .json(status: 200, "[" + listing.joined(separator: ",") + "]")
            case "/images/\(uuid)": return .json(status: 200, manifest)
            case "/images/\(uuid)/file": return .bytes(bytes)
            default: return .json(status: 404, #"{"code": "ResourceNotFound", "message": "nope"}"#)
            }
        }
    }

    /// An upstream manifest without `published_at` (an old or hand-made server): the copy is
    /// dated as ActivateImage dates images, so listings and imgadm's `pub` column work.
    func testCopiesWithoutPublishTimeAreDated() async throws {
        let bytes = Fixture.bytes(1500, seed: 6)
        let undated = Fixture.manifest(uuid: base, extra: """
            "state": "active", "files": [{"sha1": "\(Fixture.sha1(bytes))", "size": \(bytes.count), "compression": "gzip"}]
            """)
        let scripted = try upstream(listing: [undated], serving: base, undated, bytes)
        defer { scripted.stop() }
        XCTAssertEqual(try mirror([], from: scripted.baseURL).status, 0)
        try local.start()
        let copied = try await TestClient(local).get("/images/\(base)").object()
        let published = try XCTUnwrap(copied["published_at"]?.stringValue, "\(copied)")
        XCTAssertTrue(Timestamp.isPublishedAt(published), published)
    }
}
