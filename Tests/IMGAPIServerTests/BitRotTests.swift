import Foundation
import IMGAPI
import XCTest

/// Stored files that rot, shrink or vanish: `imgapid scrub` finds every one, quarantines it
/// (its image answers 503, never bad bytes), and a verified copy (a new publish of the same
/// bytes, or `--repair-from` another server) puts it back.
final class BitRotTests: XCTestCase {
    var server: ServerProcess!
    let uuids = (1...4).map { "b1700000-0000-4000-8000-00000000000\($0)" }
    let files = (1...4).map { Fixture.bytes(200_000 + $0 * 1000, seed: UInt64($0)) }

    override func setUp() async throws {
        server = try ServerProcess(["--trust-network", "127.0.0.1/32"])
        try server.start()
        for (uuid, file) in zip(uuids, files) { try await TestClient(server).publish(uuid, file: file) }
    }

    override func tearDown() async throws {
        server.stop()
    }

    func blob(_ index: Int) -> URL {
        let sha256 = Fixture.sha256(files[index])
        return server.storage.appendingPathComponent("blobs/sha256/\(sha256.prefix(2))/\(sha256)")
    }

    /// Flips a byte of file 0, truncates file 1, deletes file 2; file 3 stays good.
    func rot() throws {
        let flipped = try FileHandle(forUpdating: blob(0))
        try flipped.seek(toOffset: 1234)
        let byte = try XCTUnwrap(flipped.readData(ofLength: 1).first)
        try flipped.seek(toOffset: 1234)
        try flipped.write(contentsOf: Data([byte ^ 0x01]))
        try flipped.close()
        let truncated = try FileHandle(forWritingTo: blob(1))
        try truncated.truncate(atOffset: 5000)
        try truncated.close()
        try FileManager.default.removeItem(at: blob(2))
    }

    func scrub(_ extra: [String] = []) throws -> (status: Int32, report: JSONObject) {
        let result = try ServerProcess.run(["scrub", "--storage", server.storage.path, "--json"] + extra)
        let report = try XCTUnwrap(try? JSONValue.parse(Array(result.output.utf8)).objectValue, result.output)
        return (result.status, report)
    }

    func testScrubFindsEveryBadFileAndARepublishOrARepairHealsIt() async throws {
        server.stop()
        try rot()
        let found = try scrub()
        XCTAssertEqual(found.status, 1)
        XCTAssertEqual(found.report["files"], .number(4))
        XCTAssertEqual(found.report["quarantined"], .number(3))
        let problems = (found.report["problems"]?.arrayValue ?? []).compactMap(\.objectValue)
        XCTAssertEqual(Set(problems.compactMap { $0["sha256"]?.stringValue }), Set(files.prefix(3).map(Fixture.sha256)))
        XCTAssertTrue(problems.contains { $0["problem"]?.stringValue?.contains("SHA-256") == true }, "\(problems)")
        XCTAssertEqual(try scrub().report["quarantined"], .number(0), "nothing new the second time")

        try server.start()
        let client = TestClient(server)
        for index in 0..<3 {
            let download = try await client.get("/images/\(uuids[index])/file")
            XCTAssertEqual(download.status, 503, "file \(index)")
            XCTAssertTrue(download.text.contains("failed verification"), download.text)
        }
        let good = try await client.get("/images/\(uuids[3])/file")
        XCTAssertEqual(good.body, files[3])
        let listed = try await client.get("/images").json().arrayValue ?? []
        XCTAssertEqual(listed.count, 4, "quarantined images stay listed")

        // A new publish of the same bytes heals file 0.
        try await client.publish("b1700000-0000-4000-8000-000000000009", file: files[0])
        let healed = try await client.get("/images/\(uuids[0])/file")
        XCTAssertEqual(healed.body, files[0])

        // Files 1 and 2 come back from another server that has the same images.
        let other = try ServerProcess(["--trust-network", "127.0.0.1/32"])
        try other.start()
        defer { other.stop() }
        for index in 1...2 { try await TestClient(other).publish(uuids[index], file: files[index]) }
        server.stop()
        let repaired = try scrub(["--repair-from", other.baseURL])
        XCTAssertEqual(repaired.status, 0, repaired.report.prettyPrinted())
        XCTAssertEqual(repaired.report["problems"], .array([]))
        try server.start()
        for index in 1...2 {
            let download = try await TestClient(server).get("/images/\(uuids[index])/file")
            XCTAssertEqual(download.body, files[index], "file \(index)")
        }
    }

    /// The server scrubs by itself (`scrubInterval`), and logs what it quarantined.
    func testServerScrubsInTheBackground() async throws {
        server.stop()
        try rot()
        let config = server.storage.appendingPathComponent("scrub.json")
        try #"{"scrubInterval": 1, "trustedNetworks": ["127.0.0.1/32"]}"#.write(to: config, atomically: true, encoding: .utf8)
        let scrubbing = try ServerProcess(["--config", config.path], storage: server.storage)
        try scrubbing.start()
        defer { scrubbing.stop() }
        XCTAssertTrue(scrubbing.waitForLogLine { $0.contains("\"msg\":\"scrub\"") && $0.contains("\"quarantined\":3") },
                      scrubbing.logLines.joined(separator: "\n"))
        let download = try await TestClient(scrubbing).get("/images/\(uuids[0])/file")
        XCTAssertEqual(download.status, 503)

        // The server's status says so too: /ready (still ready: the other images serve) and /metrics.
        let ready = try await TestClient(scrubbing).get("/ready")
        XCTAssertEqual(ready.status, 200, ready.text)
        let status = try ready.object()
        XCTAssertEqual(status["quarantinedFiles"], .number(3), ready.text)
        XCTAssertEqual(status["scrub"]?.objectValue?["lastResult"], .string("problems"), ready.text)
        XCTAssertEqual(status["scrub"]?.objectValue?["lastQuarantined"], .number(3), ready.text)
        let samples = try PrometheusText.parse(try await TestClient(scrubbing).get("/metrics").text)
        XCTAssertEqual(samples.value("imgapi_scrub_runs_total", ["result": "problems"]), 1)
        XCTAssertEqual(samples.value("imgapi_scrub_quarantined_files_total"), 3)
        XCTAssertEqual(samples.value("imgapi_quarantined_files"), 3)
        XCTAssertEqual(samples.value("imgapi_scrub_running"), 0)
        XCTAssertGreaterThan(samples.value("imgapi_scrub_last_completed_timestamp_seconds") ?? 0, Date().timeIntervalSince1970 - 600)
    }

    /// A backup of a store with damaged files keeps every image: the damaged files are
    /// quarantined in the copy, and only images deleted meanwhile would be dropped.
    func testBackupKeepsImagesWhoseFileIsDamagedQuarantined() async throws {
        try rot()
        let backup = try ServerProcess.temporaryDirectory().appendingPathComponent("backup")
        defer { try? FileManager.default.removeItem(at: backup.deletingLastPathComponent()) }
        let made = try ServerProcess.run(["backup", backup.path, "--storage", server.storage.path, "--json"])
        XCTAssertEqual(made.status, 1, "damaged files make the exit status 1: \(made.output)")
        let report = try XCTUnwrap(try? JSONValue.parse(Array(made.output.utf8)).objectValue, made.output)
        XCTAssertEqual(report["images"], .number(4), made.output)
        XCTAssertEqual(report["dropped"], .array([]), made.output)
        let bad = (report["bad"]?.arrayValue ?? []).compactMap { $0.objectValue?["sha256"]?.stringValue }
        XCTAssertEqual(Set(bad), Set(files.prefix(3).map(Fixture.sha256)), made.output)

        let restored = try ServerProcess(["--trust-network", "127.0.0.1/32"], storage: backup)
        try restored.start()
        defer { restored.stop() }
        let client = TestClient(restored)
        for index in 0..<3 {
            let download = try await client.get("/images/\(uuids[index])/file")
            XCTAssertEqual(download.status, 503, "file \(index): \(download.text)")
            XCTAssertTrue(download.text.contains("quarantined"), download.text)
        }
        let good = try await client.get("/images/\(uuids[3])/file")
        XCTAssertEqual(good.body, files[3])
    }
}
