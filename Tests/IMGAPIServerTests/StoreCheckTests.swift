import Foundation
import IMGAPI
import XCTest

/// `imgapid check` on a storage directory that went wrong in every way it checks.
final class StoreCheckTests: XCTestCase {
    func testCheckFindsRepairsAndListsTheRest() async throws {
        let server = try ServerProcess(["--trust-network", "127.0.0.1/32"])
        try server.start()
        let client = TestClient(server)
        let (base, child, other) = ("c4000000-0000-4000-8000-000000000001", "c4000000-0000-4000-8000-000000000002",
                                    "c4000000-0000-4000-8000-000000000003")
        try await client.publish(base, file: Fixture.bytes(3000, seed: 1))
        try await client.publish(child, extra: "\"origin\": \"\(base)\"", file: Fixture.bytes(3000, seed: 2))
        let otherFile = Fixture.bytes(3000, seed: 3)
        try await client.publish(other, file: otherFile)
        let check = ["check", "--storage", server.storage.path, "--json"]
        let running = try ServerProcess.run(check)
        XCTAssertNotEqual(running.status, 0)
        XCTAssertTrue(running.output.contains("in use"), "a running server holds the storage: \(running.output)")
        server.stop()
        let clean = try report(try ServerProcess.run(check))
        XCTAssertEqual(clean.status, 0, "\(clean.findings)")
        XCTAssertEqual(clean.kinds, [])
        let notes = clean.findings.filter { $0["kind"] == .string("unvalidated") }.compactMap { $0["subject"]?.stringValue }
        XCTAssertEqual(Set(notes), [base, child, other], "images accepted without a stream check are listed")

        // An orphan blob, an unfinished upload, a missing file, and an image whose origin is gone.
        let orphan = String(repeating: "ab", count: 32)
        let orphanDirectory = server.storage.appendingPathComponent("blobs/sha256/ab")
        try FileManager.default.createDirectory(at: orphanDirectory, withIntermediateDirectories: true)
        try Data([1, 2, 3]).write(to: orphanDirectory.appendingPathComponent(orphan))
        try Data([4]).write(to: server.storage.appendingPathComponent("uploads/cut-short"))
        let otherSHA256 = Fixture.sha256(otherFile)
        try FileManager.default.removeItem(at: server.storage.appendingPathComponent("blobs/sha256/\(otherSHA256.prefix(2))/\(otherSHA256)"))
        try sqlite(server, "DELETE FROM image WHERE uuid = '\(base)'")

        let found = try report(try ServerProcess.run(check))
        XCTAssertEqual(found.status, 1)
        XCTAssertEqual(Set(found.kinds), ["orphan", "leftover", "file", "origin"], "\(found.findings)")
        XCTAssertTrue(found.findings.contains { $0["subject"] == .string(child) && $0["kind"] == .string("origin") })

        let repaired = try report(try ServerProcess.run(check + ["--repair"]))
        XCTAssertEqual(repaired.status, 1, "the missing origin cannot be repaired")
        XCTAssertFalse(FileManager.default.fileExists(atPath: orphanDirectory.appendingPathComponent(orphan).path))
        XCTAssertEqual(server.files(under: "uploads"), [])
        let after = try report(try ServerProcess.run(check))
        XCTAssertEqual(Set(after.kinds), ["origin", "quarantined"], "the missing file is now quarantined: \(after.findings)")
    }

    /// A stored manifest that no longer parses: its image answers 500 with a logged error
    /// naming it (it used to be a 404, and to vanish from admin listings unnoticed), the
    /// others still serve, and `imgapid check` lists it.
    func testUndecodableManifestIsA500WithALoggedError() async throws {
        let server = try ServerProcess(["--trust-network", "127.0.0.1/32"])
        try server.start()
        let (broken, fine) = ("c4000000-0000-4000-8000-0000000000b1", "c4000000-0000-4000-8000-0000000000b2")
        try await TestClient(server).publish(broken)
        try await TestClient(server).publish(fine)
        server.stop()
        try sqlite(server, "UPDATE image SET record = '{\"uuid\": ' WHERE uuid = '\(broken)'")
        try server.start()
        defer { server.stop() }
        let admin = try server.signedClient()
        let got = try await admin.get("/images/\(broken)")
        XCTAssertEqual(got.status, 500, got.text)
        XCTAssertTrue(got.text.contains("imgapid check"), got.text)
        let other = try await admin.get("/images/\(fine)")
        XCTAssertEqual(other.status, 200)
        let listed = try await admin.get("/images?inclAdminFields=true")
        XCTAssertEqual(listed.status, 200, listed.text)
        let uuids = (try listed.json().arrayValue ?? []).compactMap { $0.objectValue?["uuid"]?.stringValue }
        XCTAssertEqual(uuids, [fine])
        // One for each request; the log writer may write them in two batches.
        XCTAssertTrue(server.waitForLogLine(count: 2) { $0.contains("stored manifest does not parse") && $0.contains(broken) },
                      server.logLines.joined(separator: "\n"))
        XCTAssertEqual(server.logLines.filter { $0.contains("stored manifest does not parse") }.count, 2, "one for each request")
        server.stop()
        let found = try report(try ServerProcess.run(["check", "--storage", server.storage.path, "--json"]))
        XCTAssertTrue(found.findings.contains { $0["subject"] == .string(broken) && $0["kind"] == .string("manifest") }, "\(found.findings)")
    }

    /// The findings, and the kinds of those that are problems (not notes).
    func report(_ result: (status: Int32, output: String)) throws -> (status: Int32, findings: [JSONObject], kinds: [String]) {
        let object = try XCTUnwrap(try? JSONValue.parse(Array(result.output.utf8)).objectValue, result.output)
        let findings = (object["findings"]?.arrayValue ?? []).compactMap(\.objectValue)
        return (result.status, findings, findings.filter { $0["note"] != .bool(true) }.compactMap { $0["kind"]?.stringValue })
    }

    func sqlite(_ server: ServerProcess, _ statement: String) throws {
        let result = try ChildProcess.run("/usr/bin/sqlite3", [server.storage.appendingPathComponent("catalog.sqlite").path, statement],
                                          timeout: 60)
        XCTAssertEqual(result.status, 0, "\(statement): \(result.output)")
    }
}
