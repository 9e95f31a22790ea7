import Foundation
import IMGAPI
import XCTest

/// Offline bundles: `imgapid export` from one store and `imgapid import-bundle` into
/// another, as tar files and directories; the imported images served as they were;
/// imports that are repeated or were cut short; tampered bundles refused whole.
final class BundleTests: XCTestCase {
    var source: ServerProcess!
    var work: URL!
    let owner = "930896af-bf8c-48d4-885c-6573a94b1853"
    let base = "b0000000-0000-4000-8000-000000000001"
    let child = "b0000000-0000-4000-8000-000000000002"
    /// Created by its owner (CreateImage), not imported: its owner is not the zero uuid.
    var other = ""
    let disabled = "b0000000-0000-4000-8000-000000000004"
    let icon: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + Fixture.bytes(600, seed: 9)
    var files: [String: [UInt8]] = [:]

    override func setUp() async throws {
        work = try ServerProcess.temporaryDirectory()
        source = try ServerProcess(["--trust-network", "127.0.0.1/32"])
        try source.start()
        let client = TestClient(source)
        for (index, uuid) in [base, child, disabled].enumerated() {
            files[uuid] = Fixture.bytes(200_000 + index, seed: UInt64(40 + index))
            try await client.publish(uuid, name: uuid == child ? "child" : "image-\(index)",
                                     extra: uuid == child ? "\"origin\": \"\(base)\"" : "", file: files[uuid]!)
        }
        let created = try await client.postJSON("/images?account=\(owner)", """
            {"v": 2, "owner": "\(owner)", "name": "owned", "version": "1", "type": "zone-dataset", "os": "smartos"}
            """)
        expect(created, status: 200)
        other = try XCTUnwrap(try created.object()["uuid"]?.stringValue)
        files[other] = Fixture.bytes(150_000, seed: 77)
        expect(try await client.putFile(other, files[other]!, query: "compression=gzip&account=\(owner)"), status: 200)
        expect(try await client.postJSON("/images/\(other)?action=activate&account=\(owner)", "{}"), status: 200)
        expect(try await client.request(.PUT, "/images/\(child)/icon", headers: [("Content-Type", "image/png")], body: icon), status: 200)
        expect(try await client.postJSON("/images/\(disabled)?action=disable", "{}"), status: 200)
    }

    override func tearDown() async throws {
        source?.stop()
        if let work { try? FileManager.default.removeItem(at: work) }
    }

    func path(_ name: String) -> String { work.appendingPathComponent(name).path }

    func export(_ arguments: [String]) throws -> JSONObject {
        let run = try ServerProcess.run(["export", "--storage", source.storage.path, "--json"] + arguments)
        XCTAssertEqual(run.status, 0, run.output)
        return try XCTUnwrap(try? JSONValue.parse(Array(run.output.utf8)).objectValue, run.output)
    }

    /// Imports `bundle` into the storage `into`; returns each image's result by uuid. The
    /// files are placeholder bytes, not ZFS streams (the source does not check them either).
    func importBundle(_ bundle: String, into storage: String) throws -> [String: String] {
        let run = try ServerProcess.run(["import-bundle", bundle, "--storage", storage, "--json", "--no-validate-streams"])
        XCTAssertEqual(run.status, 0, run.output)
        let outcomes = try XCTUnwrap(try? JSONValue.parse(Array(run.output.utf8)).arrayValue, run.output)
        return Dictionary(uniqueKeysWithValues: outcomes.compactMap(\.objectValue).map {
            ($0["uuid"]?.stringValue ?? "", $0["result"]?.stringValue ?? "")
        })
    }

    func expectRefused(_ bundle: String, into storage: String, _ words: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let run = try ServerProcess.run(["import-bundle", bundle, "--storage", storage, "--no-validate-streams"])
        XCTAssertEqual(run.status, 1, run.output, file: file, line: line)
        for word in words + ["nothing from the bundle was imported"] {
            XCTAssertTrue(run.output.contains(word), "\(word) not in: \(run.output)", file: file, line: line)
        }
        let target = try ServerProcess([], storage: URL(fileURLWithPath: storage))
        try target.assertStored(images: 0, blobs: 0, file: file, line: line)
        XCTAssertEqual(target.files(under: "partial"), [], "no kept bytes are left behind", file: file, line: line)
    }

    func testExportWithOriginsImportsIntoAnEmptyStoreAndServesTheSameImages() async throws {
        // The child brings its origin; the others stay out.
        let exported = try export(["--to", path("child.tar"), "--name", "child"])
        XCTAssertEqual(exported["images"]?.arrayValue?.compactMap(\.stringValue), [base, child])
        let listing = try ChildProcess.run("/bin/tar", ["tf", path("child.tar")], timeout: 60)
        XCTAssertEqual(listing.output.split(separator: "\n").first, "imgapi-bundle.json", "GNU tar reads it; the index comes first")

        let target = path("target")
        XCTAssertEqual(try importBundle(path("child.tar"), into: target), [base: "imported", child: "imported"])
        XCTAssertEqual(try importBundle(path("child.tar"), into: target), [base: "present", child: "present"], "a second import changes nothing")

        // Everything, into a directory with a zstd index: the disabled image stays disabled.
        _ = try export(["--to", path("all") + "/", "--zstd"])
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("all/imgapi-bundle.json.zst")))
        XCTAssertEqual(try importBundle(path("all"), into: target),
                       [base: "present", child: "present", other: "imported", disabled: "imported"])
        // The directory made into a tar file by GNU tar, with its directories and ./ names.
        let retar = try ChildProcess.run("/bin/tar", ["cf", path("retarred.tar"), "-C", path("all"), "."], timeout: 60)
        XCTAssertEqual(retar.status, 0, retar.output)
        XCTAssertEqual(try importBundle(path("retarred.tar"), into: path("other-target")),
                       [base: "imported", child: "imported", other: "imported", disabled: "imported"])

        let check = try ServerProcess.run(["check", "--storage", target])
        XCTAssertEqual(check.status, 0, check.output)
        let copy = try ServerProcess(["--trust-network", "127.0.0.1/32"], storage: URL(fileURLWithPath: target))
        try copy.start()
        defer { copy.stop() }
        let theirs = try source.signedClient(), ours = try copy.signedClient()
        for uuid in [base, child, other, disabled] {
            let original = try await theirs.get("/images/\(uuid)").object()
            let imported = try await ours.get("/images/\(uuid)").object()
            XCTAssertEqual(imported, original, uuid)
            let download = try await ours.get("/images/\(uuid)/file")
            XCTAssertTrue(download.body == files[uuid], "the file of \(uuid) is the one published")
            if uuid == disabled { XCTAssertEqual(imported["state"]?.stringValue, "disabled") }
            if uuid == other { XCTAssertEqual(imported["owner"]?.stringValue, owner) }
        }
        let copiedIcon = try await ours.get("/images/\(child)/icon")
        XCTAssertTrue(copiedIcon.body == icon, "the icon came along")
    }

    func testAnImportCutShortGoesOnWhereItStopped() throws {
        _ = try export(["--to", path("base.tar"), "--uuid", base])
        _ = try export(["--to", path("child.tar"), "--uuid", child])
        let target = path("target")
        // As if the import of child.tar had stopped after the base.
        XCTAssertEqual(try importBundle(path("base.tar"), into: target), [base: "imported"])
        XCTAssertEqual(try importBundle(path("child.tar"), into: target), [base: "present", child: "imported"])
    }

    /// Killed while it reads a large file from the bundle, an import keeps what it read; the
    /// next run hashes those bytes again and reads only the rest.
    func testAKilledImportReadsOnlyWhatIsLeft() async throws {
        let large = "b0000000-0000-4000-8000-000000000010"
        let bytes = Fixture.bytes(40 << 20, seed: 5)
        try await TestClient(source).publish(large, name: "large", file: bytes)
        _ = try export(["--to", path("large.tar"), "--uuid", large])
        let target = path("target")
        let partial = URL(fileURLWithPath: target).appendingPathComponent("partial/\(Fixture.sha1(bytes))").path
        let importing = try ChildProcess.quiet(ServerProcess.executable.path, ["import-bundle", path("large.tar"), "--storage", target])
        let deadline = Date().addingTimeInterval(60)
        var kept: Int64 = 0
        while kept < 2 << 20, importing.isRunning, Date() < deadline {
            kept = (try? FileManager.default.attributesOfItem(atPath: partial)[.size] as? NSNumber)?.int64Value ?? 0
            usleep(2000)
        }
        importing.signal(SIGKILL)
        XCTAssertTrue(importing.wait(within: 30))
        kept = (try? FileManager.default.attributesOfItem(atPath: partial)[.size] as? NSNumber)?.int64Value ?? 0
        XCTAssertGreaterThan(kept, 0, "the import was killed while reading the file")
        XCTAssertLessThan(kept, Int64(bytes.count), "the import was killed before the end of the file")

        let run = try ServerProcess.run(["import-bundle", path("large.tar"), "--storage", target, "--json", "--no-validate-streams"])
        XCTAssertEqual(run.status, 0, run.output)
        let outcome = try XCTUnwrap(try? JSONValue.parse(Array(run.output.utf8)).arrayValue?.first?.objectValue, run.output)
        XCTAssertEqual(outcome["result"]?.stringValue, "imported")
        XCTAssertEqual(Int64(outcome["bytes"]?.intValue ?? -1), Int64(bytes.count) - kept, "only the rest was read from the bundle")
        XCTAssertFalse(FileManager.default.fileExists(atPath: partial), "the kept file became the image's")
        let copy = try ServerProcess([], storage: URL(fileURLWithPath: target))
        try copy.start()
        defer { copy.stop() }
        let download = try await TestClient(copy).get("/images/\(large)/file")
        XCTAssertTrue(download.body == bytes, "the image's file is the one published")
    }

    func testTamperedBundlesAreRefusedAndNothingLands() throws {
        _ = try export(["--to", path("child.tar"), "--name", "child"])
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path("child.tar"))))

        // One byte of the child's file changed.
        let childFile = Fixture.sha256(files[child]!)
        var flipped = bytes
        let at = try XCTUnwrap(find(Array(files[child]!.prefix(64)), in: bytes)) + 1000
        flipped[at] ^= 0x01
        try Data(flipped).write(to: URL(fileURLWithPath: path("flipped.tar")))
        try expectRefused(path("flipped.tar"), into: path("t1"), [child, "files/\(childFile)", "is not the file"])

        // A directory bundle with a file missing.
        _ = try export(["--to", path("dir") + "/", "--name", "child"])
        try FileManager.default.removeItem(atPath: path("dir/files/\(childFile)"))
        try expectRefused(path("dir"), into: path("t2"), [child, "has no entry files/\(childFile)"])

        // An index that names other bytes for the base's file than the bundle holds.
        _ = try export(["--to", path("dir2") + "/", "--name", "child"])
        let indexPath = path("dir2/imgapi-bundle.json")
        let baseFile = Fixture.sha256(files[base]!)
        let changed = String(repeating: "0", count: 64)
        let text = try String(contentsOfFile: indexPath, encoding: .utf8)
        try text.replacingOccurrences(of: "files/\(baseFile)", with: "files/\(changed)")
            .replacingOccurrences(of: baseFile, with: changed).write(toFile: indexPath, atomically: true, encoding: .utf8)
        try FileManager.default.moveItem(atPath: path("dir2/files/\(baseFile)"), toPath: path("dir2/files/\(changed)"))
        try expectRefused(path("dir2"), into: path("t3"), [base, "files/\(changed)", "is not the file"])

        // Not a bundle at all.
        try Data(Fixture.bytes(4096)).write(to: URL(fileURLWithPath: path("random.tar")))
        let run = try ServerProcess.run(["import-bundle", path("random.tar"), "--storage", path("t4")])
        XCTAssertEqual(run.status, 1, run.output)
        XCTAssertTrue(run.output.contains("is not a bundle"), run.output)
    }

    /// Into a running server through its API, signed: verified whole first, then sent; a
    /// second run sends nothing, and an unsigned one is refused before anything lands.
    func testImportThroughTheAPIOfARunningServer() async throws {
        _ = try export(["--to", path("all.tar")])
        let target = try ServerProcess([])
        try target.start()
        defer { target.stop() }
        let keyFile = work.appendingPathComponent("operator")
        _ = try ChildProcess.run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", keyFile.path], timeout: 60)
        XCTAssertEqual(try ServerProcess.run(["keys", "add", "--storage", target.storage.path, "operator", keyFile.path + ".pub"]).status, 0)

        let unsigned = try ServerProcess.run(["import-bundle", path("all.tar"), "--to", target.baseURL])
        XCTAssertEqual(unsigned.status, 1, unsigned.output)
        XCTAssertTrue(unsigned.output.contains("does not accept writes from this host"), unsigned.output)
        XCTAssertEqual(try target.catalogImageCount(), 0)

        var tampered = Array(try Data(contentsOf: URL(fileURLWithPath: path("all.tar"))))
        tampered[try XCTUnwrap(find(Array(files[other]!.prefix(64)), in: tampered)) + 100] ^= 0x01
        try Data(tampered).write(to: URL(fileURLWithPath: path("tampered.tar")))
        let signing = ["--to", target.baseURL, "--user", "operator", "--key", keyFile.path]
        let refused = try ServerProcess.run(["import-bundle", path("tampered.tar")] + signing)
        XCTAssertEqual(refused.status, 1, refused.output)
        XCTAssertTrue(refused.output.contains("image \(other)") && refused.output.contains("nothing from the bundle was imported"), refused.output)
        XCTAssertEqual(try target.catalogImageCount(), 0, "a damaged bundle sends nothing")

        let sent = try ServerProcess.run(["import-bundle", path("all.tar"), "--json"] + signing)
        XCTAssertEqual(sent.status, 0, sent.output)
        XCTAssertEqual(sent.output.components(separatedBy: "\"imported\"").count - 1, 4, sent.output)
        let again = try ServerProcess.run(["import-bundle", path("all.tar"), "--json"] + signing)
        XCTAssertEqual(again.output.components(separatedBy: "\"present\"").count - 1, 4, again.output)

        let theirs = try source.signedClient(), ours = try target.signedClient()
        for uuid in [base, child, other, disabled] {
            let original = try await theirs.get("/images/\(uuid)").object()
            var imported = try await ours.get("/images/\(uuid)").object()
            XCTAssertEqual(imported["owner"]?.stringValue, ImageUUID.zero, "a public server's import sets the zero owner")
            imported["owner"] = original["owner"]
            XCTAssertEqual(imported, original, uuid)
            let download = try await ours.get("/images/\(uuid)/file")
            XCTAssertTrue(download.body == files[uuid], "the file of \(uuid) is the one published")
        }
        let copiedIcon = try await ours.get("/images/\(child)/icon")
        XCTAssertTrue(copiedIcon.body == icon, "the icon came along")
    }

    func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard let first = needle.first else { return nil }
        var index = haystack.firstIndex(of: first)
        while let start = index, start + needle.count <= haystack.count {
            if haystack[start..<(start + needle.count)].elementsEqual(needle) { return start }
            index = haystack[(start + 1)...].firstIndex(of: first)
        }
        return nil
    }
}
