import Foundation
import IMGAPI
import XCTest

/// `imgapid mirror` from a real upstream imgapid (and a scripted faulty one) into a local
/// storage directory, then read back through a real server on that storage.
final class MirrorTests: XCTestCase {
    var upstream: ServerProcess!
    var up: TestClient!
    /// The mirror's storage; `local` is a server (not started until needed) on it.
    var local: ServerProcess!

    let base = "a1000000-0000-4000-8000-000000000001"
    let app = "a1000000-0000-4000-8000-000000000002"
    let linux = "a1000000-0000-4000-8000-000000000003"
    let owner = "0ab0c000-0000-4000-8000-000000000000"

    override func setUp() async throws {
        upstream = try ServerProcess(["--trust-network", "127.0.0.1/32"])
        try upstream.start()
        up = TestClient(upstream)
        local = try ServerProcess(["--trust-network", "127.0.0.1/32"])
    }

    override func tearDown() async throws {
        upstream.stop()
        local.stop()
    }

    /// base (owned by `owner`, created with CreateImage) ← app; linux beside them.
    /// The base is then disabled upstream: only its child's chain brings it.
    func publishCatalog() async throws -> [String: [UInt8]] {
        var files: [String: [UInt8]] = [:]
        let created = try await up.postJSON("/images", """
            {"v": 2, "owner": "\(owner)", "name": "base", "version": "1", "type": "zone-dataset", "os": "smartos",
             "description": "created upstream"}
            """)
        expect(created, status: 200)
        let createdUUID = try XCTUnwrap(created.object()["uuid"]?.stringValue)
        files[createdUUID] = Fixture.bytes(200_000, seed: 1)
        expect(try await up.putFile(createdUUID, files[createdUUID]!, query: "compression=gzip"), status: 200)
        expect(try await up.postJSON("/images/\(createdUUID)?action=activate", "{}"), status: 200)
        files[app] = Fixture.bytes(150_000, seed: 2)
        try await up.publish(app, name: "app", version: "2.0", extra: "\"origin\": \"\(createdUUID)\", \"published_at\": \"2030-02-01T00:00:00Z\"",
                             file: files[app]!)
        files[linux] = Fixture.bytes(100_000, seed: 3)
        try await up.publish(linux, name: "ubuntu", version: "20.04", os: "linux", type: "lx-dataset",
                             extra: #""published_at": "2030-03-01T00:00:00Z""#, file: files[linux]!)
        expect(try await up.postJSON("/images/\(createdUUID)?action=disable", "{}"), status: 200)
        return files
    }

    /// Runs `imgapid mirror --json` into the local storage; returns exit status and summary.
    func mirror(_ arguments: [String], from source: String? = nil) throws -> (status: Int32, summary: JSONObject) {
        let result = try ServerProcess.run(["mirror", "--no-validate-streams", "--from", source ?? upstream.baseURL, "--json"]
                                           + local.storageOptions + arguments)
        guard let summary = try? JSONValue.parse(Array(result.output.utf8)).objectValue else {
            throw TestFailure("mirror output is not a JSON summary (\(result.status)): \(result.output)")
        }
        return (result.status, summary)
    }

    static func results(_ summary: JSONObject) -> [String: String] {
        var results: [String: String] = [:]
        for item in summary["images"]?.arrayValue ?? [] {
            if let o = item.objectValue, let uuid = o["uuid"]?.stringValue { results[uuid] = o["result"]?.stringValue }
        }
        return results
    }

    /// File downloads the upstream has logged.
    func fileDownloads() async throws -> Int {
        try await upstream.settledLogLines().filter { $0.contains("\"method\":\"GET\"") && $0.contains("/file") }.count
    }

    func testOriginChainIdentityAndIdempotence() async throws {
        let files = try await publishCatalog()
        let baseUUID = try XCTUnwrap(files.keys.first { $0 != app && $0 != linux })
        let run = try mirror(["--name", "app"])
        XCTAssertEqual(run.status, 0, run.summary.prettyPrinted())
        XCTAssertEqual(Self.results(run.summary), [baseUUID: "copied", app: "copied"], "the origin comes along")

        try local.start()
        let client = TestClient(local)
        for uuid in [baseUUID, app] {
            let theirs = try await up.get("/images/\(uuid)").object()
            let ours = try await client.get("/images/\(uuid)").object()
            XCTAssertEqual(ours, theirs, "identical manifest, owner and state included: \(uuid)")
            let download = try await client.get("/images/\(uuid)/file")
            XCTAssertEqual(download.body, files[uuid]!)
        }
        let copiedBase = try await client.get("/images/\(baseUUID)").object()
        XCTAssertEqual(copiedBase["state"], .string("disabled"))
        XCTAssertEqual(copiedBase["owner"], .string(owner))
        expect(try await client.get("/images/\(linux)"), status: 404)

        // A disabled image is not in the anonymous listing, but --uuid finds it.
        let byUUID = try mirror(["--uuid", baseUUID, "--dry-run"], from: upstream.baseURL)
        XCTAssertEqual(Self.results(byUUID.summary), [baseUUID: "present"])
        let fresh = try ServerProcess()
        let disabledOnly = try ServerProcess.run(["mirror", "--no-validate-streams", "--from", upstream.baseURL, "--uuid", baseUUID, "--json"]
                                                 + fresh.storageOptions)
        XCTAssertEqual(Self.results(try XCTUnwrap(try JSONValue.parse(Array(disabledOnly.output.utf8)).objectValue)),
                       [baseUUID: "copied"], disabledOnly.output)

        // One process writes a storage at a time: the server lets go before the next run.
        local.stop()
        let downloads = try await fileDownloads()
        let again = try mirror(["--name", "app"])
        XCTAssertEqual(again.status, 0)
        XCTAssertEqual(again.summary["copied"], .number(0))
        let afterwards = try await fileDownloads()
        XCTAssertEqual(afterwards, downloads, "a second run transfers no file")
    }

    /// An upstream image's icon is copied with it: same bytes, same type, `icon: true`.
    func testIconsComeAlong() async throws {
        try await up.publish(base, name: "pictured")
        let gif = Array("GIF89a".utf8) + Fixture.bytes(500, seed: 9)
        expect(try await up.request(.PUT, "/images/\(base)/icon", headers: [("Content-Type", "image/gif")], body: gif), status: 200)
        let run = try mirror([])
        XCTAssertEqual(run.status, 0, run.summary.prettyPrinted())
        try local.start()
        let client = TestClient(local)
        let ours = try await client.get("/images/\(base)").object()
        let theirs = try await up.get("/images/\(base)").object()
        XCTAssertEqual(ours, theirs)
        XCTAssertEqual(ours["icon"], .bool(true))
        let icon = try await client.get("/images/\(base)/icon")
        XCTAssertEqual(icon.status, 200)
        XCTAssertEqual(icon.body, gif)
        XCTAssertEqual(icon.header("Content-Type"), "image/gif")
    }

    /// Changes upstream reach images mirrored before, on the next run, without their files
    /// being fetched again. They were never refreshed.
    func testMirroredImagesFollowUpstreamChanges() async throws {
        try await up.publish(base, name: "changing", extra: #""description": "first""#)
        XCTAssertEqual(try mirror([]).summary["copied"], .number(1))
        let downloads = try await fileDownloads()

        expect(try await up.postJSON("/images/\(base)?action=update", #"{"description": "second", "tags": {"role": "db"}, "homepage": "https://example.com"}"#), status: 200)
        expect(try await up.postJSON("/images/\(base)?action=disable", "{}"), status: 200)
        let gif = Array("GIF89a".utf8) + Fixture.bytes(300, seed: 8)
        expect(try await up.request(.PUT, "/images/\(base)/icon", headers: [("Content-Type", "image/gif")], body: gif), status: 200)
        let dry = try mirror(["--uuid", base, "--dry-run"])
        XCTAssertEqual(Self.results(dry.summary), [base: "would-update"])
        let run = try mirror(["--uuid", base])
        XCTAssertEqual(run.status, 0, run.summary.prettyPrinted())
        XCTAssertEqual(Self.results(run.summary), [base: "updated"])
        XCTAssertEqual(run.summary["updated"], .number(1))
        let afterwards = try await fileDownloads()
        XCTAssertEqual(afterwards, downloads, "no file is fetched for a refresh")
        let again = try mirror(["--uuid", base])
        XCTAssertEqual(Self.results(again.summary), [base: "present"], "nothing changed since")

        try local.start()
        let client = TestClient(local)
        let theirs = try await up.get("/images/\(base)").object()
        let ours = try await client.get("/images/\(base)").object()
        XCTAssertEqual(ours, theirs)
        XCTAssertEqual(theirs["state"], .string("disabled"))
        let icon = try await client.get("/images/\(base)/icon")
        XCTAssertEqual(icon.body, gif)
        local.stop()

        expect(try await up.request(.DELETE, "/images/\(base)/icon"), status: 200)
        expect(try await up.postJSON("/images/\(base)?action=enable", "{}"), status: 200)
        XCTAssertEqual(Self.results(try mirror(["--uuid", base]).summary), [base: "updated"])
        try local.start()
        let restarted = TestClient(local)
        let refreshed = try await restarted.get("/images/\(base)").object()
        let upstreamNow = try await up.get("/images/\(base)").object()
        XCTAssertEqual(refreshed, upstreamNow)
        expect(try await restarted.get("/images/\(base)/icon"), status: 404)
    }

    func testFiltersChooseImages() async throws {
        _ = try await publishCatalog()
        for (arguments, expected) in [
            (["--os", "linux"], [linux]),
            (["--name", "~u"], [linux]),
            (["--type", "zone-dataset"], [app]),
            (["--since", "2030-02-15"], [linux]),
            (["--uuid", app, "--uuid", linux], [app, linux]),
            (["--name", "app", "--name", "ubuntu", "--os", "linux"], [linux]),
            (["--latest", "1"], [app, linux]),
        ] {
            let run = try mirror(["--dry-run"] + arguments)
            XCTAssertEqual(run.status, 0, "\(arguments)")
            let selected = Self.results(run.summary).filter { $0.value == "would-copy" }.keys
            // A selected child brings its (unselected) origin: count only the selected.
            XCTAssertTrue(Set(expected).isSubset(of: Set(selected)), "\(arguments): \(selected.sorted())")
            XCTAssertFalse(selected.contains(where: { [app, linux].contains($0) && !expected.contains($0) }), "\(arguments): \(selected.sorted())")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: local.storage.path), [], "dry runs write nothing")
    }

    func testSameBytesAreFetchedOnce() async throws {
        let shared = Fixture.bytes(80_000, seed: 7)
        try await up.publish(base, name: "one", file: shared)
        try await up.publish(app, name: "two", file: shared)
        let run = try mirror([])
        XCTAssertEqual(run.status, 0, run.summary.prettyPrinted())
        XCTAssertEqual(run.summary["copied"], .number(2))
        let downloads = try await fileDownloads()
        XCTAssertEqual(downloads, 1, "the second image reuses the stored file")
        XCTAssertEqual(local.files(under: "blobs").count, 1)
    }

    func testPruneRemovesOnlyImagesGoneUpstream() async throws {
        try await up.publish(base, name: "one", file: Fixture.bytes(1000, seed: 1))
        try await up.publish(app, name: "two", file: Fixture.bytes(1000, seed: 2))
        XCTAssertEqual(try mirror([]).status, 0)
        // An image published locally must survive any prune.
        try local.start()
        try await TestClient(local).publish("a1000000-0000-4000-8000-0000000000ff", name: "mine")
        local.stop()

        expect(try await up.request(.DELETE, "/images/\(app)"), status: 204)
        let dry = try mirror(["--prune", "--dry-run"])
        XCTAssertEqual(Self.results(dry.summary)[app], "would-prune")
        XCTAssertEqual(try local.catalogImageCount(), 3)
        let pruned = try mirror(["--prune"])
        XCTAssertEqual(pruned.status, 0, pruned.summary.prettyPrinted())
        XCTAssertEqual(Self.results(pruned.summary)[app], "pruned")
        XCTAssertEqual(try local.catalogImageCount(), 2, "the local image and the one still upstream stay")
    }

    /// The mirror is killed mid-file; the next run asks only for the rest (a 206 upstream).
    func testResumesAnInterruptedDownload() async throws {
        let file = Fixture.bytes(64 * 1024 * 1024, seed: 21)
        try await up.publish(base, name: "big", file: file)
        let process = try ChildProcess.quiet(ServerProcess.executable.path,
                                             ["mirror", "--no-validate-streams", "--from", upstream.baseURL] + local.storageOptions)
        let partial = local.storage.appendingPathComponent("partial/\(Fixture.sha1(file))")
        for _ in 0..<6000 {
            let size = (try? FileManager.default.attributesOfItem(atPath: partial.path)[.size] as? NSNumber)?.intValue ?? 0
            if size > 8 * 1024 * 1024 { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        process.signal(SIGKILL)
        process.wait()
        let kept = (try FileManager.default.attributesOfItem(atPath: partial.path)[.size] as? NSNumber)?.intValue ?? 0
        XCTAssertGreaterThan(kept, 0, "bytes kept for the next run")
        XCTAssertLessThan(kept, file.count, "killed before the end")

        let run = try mirror([])
        XCTAssertEqual(run.status, 0, run.summary.prettyPrinted())
        XCTAssertTrue(upstream.waitForLogLine { $0.contains("/file") && $0.contains("\"status\":206") },
                      "resumed with a Range request")
        try local.start()
        let download = try await TestClient(local).get("/images/\(base)/file")
        XCTAssertEqual(download.body, file)
        XCTAssertFalse(FileManager.default.fileExists(atPath: partial.path))
    }

    /// Corrupt, truncated and failing upstream answers: the good image arrives, the bad ones
    /// are reported and leave nothing, the exit status says something failed.
    func testFaultyUpstreamStoresNothingBad() async throws {
        let good = Fixture.bytes(5000, seed: 1)
        let corrupt = Fixture.bytes(5000, seed: 2)
        let truncated = Fixture.bytes(5000, seed: 3)
        let images = [(base, good), (app, corrupt), (linux, truncated)]
        @Sendable func manifest(_ uuid: String, _ bytes: [UInt8]) -> String {
            Fixture.manifest(uuid: uuid, extra: """
                "state": "active", "published_at": "2030-01-01T00:00:00Z",
                "files": [{"sha1": "\(Fixture.sha1(bytes))", "size": \(bytes.count), "compression": "gzip"}]
                """)
        }
        let failuresLeft = LockedCounter(2)
        let fileFailuresLeft = LockedCounter(1)
        let (corruptUUID, truncatedUUID) = (app, linux)
        let scripted = try ScriptedUpstream { _, uri in
            let path = uri.split(separator: "?").first.map(String.init) ?? uri
            if path == "/images" {
                // Two 503s first: the listing must be retried.
                if failuresLeft.takeOne() { return .json(status: 503, #"{"code": "ServiceUnavailable", "message": "busy"}"#) }
                return .json(status: 200, "[" + images.map { manifest($0.0, $0.1) }.joined(separator: ",") + "]")
            }
            for (uuid, bytes) in images {
                if path == "/images/\(uuid)" { return .json(status: 200, manifest(uuid, bytes)) }
                if path == "/images/\(uuid)/file" {
                    switch uuid {
                    case corruptUUID: return .bytes(Fixture.bytes(5000, seed: 99))
                    case truncatedUUID: return .truncated(declared: 5000, Array(bytes.prefix(1000)))
                    default:
                        // A 503 first: the file must be asked for again.
                        if fileFailuresLeft.takeOne() { return .json(status: 503, #"{"code": "ServiceUnavailable", "message": "busy"}"#) }
                        return .bytes(bytes)
                    }
                }
            }
            return .json(status: 404, #"{"code": "ResourceNotFound", "message": "nope"}"#)
        }
        defer { scripted.stop() }

        let run = try mirror(["--concurrency", "3"], from: scripted.baseURL)
        XCTAssertEqual(run.status, 1, "some image failed")
        let results = Self.results(run.summary)
        XCTAssertEqual(results[base], "copied")
        XCTAssertEqual(results[app], "failed")
        XCTAssertEqual(results[linux], "failed")
        XCTAssertGreaterThan(scripted.requests.filter { $0.hasSuffix("/images/\(linux)/file") }.count, 1, "a broken transfer is retried")
        XCTAssertEqual(scripted.requests.filter { $0.hasSuffix("/images/\(base)/file") }.count, 2, "a 503 on the file is retried")
        XCTAssertEqual(try local.catalogImageCount(), 1)
        XCTAssertEqual(local.files(under: "blobs").count, 1)
        XCTAssertEqual(local.files(under: "uploads"), [])
        try local.start()
        let stored = try await TestClient(local).get("/images/\(base)/file")
        XCTAssertEqual(stored.body, good)
    }

    /// `mirrors` in the config file: `imgapid serve` runs them itself and logs each run.
    func testServerRunsConfiguredMirrors() async throws {
        let files = try await publishCatalog()
        let config = local.storage.appendingPathComponent("config.json")
        try """
            {"mirrors": [{"from": "\(upstream.baseURL)", "os": "linux", "interval": 3600}]}
            """.write(to: config, atomically: true, encoding: .utf8)
        let server = try ServerProcess(["--config", config.path])
        try server.start()
        defer { server.stop() }
        _ = server.waitForLogLine { $0.contains("mirror run") }
        let logged = try XCTUnwrap(server.logLines.first { $0.contains("mirror run") }, server.logLines.joined(separator: "\n"))
        XCTAssertTrue(logged.contains("\"copied\":1"), logged)
        let download = try await TestClient(server).get("/images/\(linux)/file")
        XCTAssertEqual(download.body, files[linux]!)
        let samples = try PrometheusText.parse(try await TestClient(server).get("/metrics").text)
        XCTAssertEqual(samples.value("imgapi_mirror_runs_total", ["result": "ok"]), 1)
        XCTAssertEqual(samples.value("imgapi_mirror_images_total", ["outcome": "copied"]), 1)
    }

    /// A mirror added to the config file runs after SIGHUP, without a restart.
    func testMirrorAddedBySighupRuns() async throws {
        let files = try await publishCatalog()
        let config = local.storage.appendingPathComponent("config.json")
        try "{}".write(to: config, atomically: true, encoding: .utf8)
        let server = try ServerProcess(["--config", config.path])
        try server.start()
        defer { server.stop() }
        try """
            {"mirrors": [{"from": "\(upstream.baseURL)", "os": "linux", "interval": 3600}]}
            """.write(to: config, atomically: true, encoding: .utf8)
        server.signal(SIGHUP)
        XCTAssertTrue(server.waitForLogLine { $0.contains("mirror run") && $0.contains("\"copied\":1") },
                      server.logLines.joined(separator: "\n"))
        let download = try await TestClient(server).get("/images/\(linux)/file")
        XCTAssertEqual(download.body, files[linux]!)
    }

    /// An upstream that cannot be reached is named with the cause in plain words. It read
    /// "connection reset (error set): Connection refused (errno: 111)".
    func testUnreachableUpstreamIsNamedWithItsCause() throws {
        let result = try ServerProcess.run(["mirror", "--from", "http://127.0.0.1:1", "--storage", local.storage.path])
        XCTAssertEqual(result.status, 1, result.output)
        XCTAssertTrue(result.output.contains("http://127.0.0.1:1 could not be reached: connection refused\n"), result.output)
        XCTAssertFalse(result.output.contains("errno"), result.output)
    }

    /// A channel in the source URL (or --channel) is read upstream as `?channel=`.
    func testChannelOfTheUpstream() async throws {
        let config = local.storage.appendingPathComponent("upstream.json")
        try """
            {"trustedNetworks": ["127.0.0.1/32"], "channels": [{"name": "dev", "description": "d", "default": true},
                                                               {"name": "release", "description": "r"}]}
            """.write(to: config, atomically: true, encoding: .utf8)
        let channelled = try ServerProcess(["--config", config.path])
        try channelled.start()
        defer { channelled.stop() }
        let client = TestClient(channelled)
        try await client.publish(base, name: "dev-only")
        try await client.publish(app, name: "released")
        expect(try await client.postJSON("/images/\(app)?action=channel-add", #"{"channel": "release"}"#), status: 200)

        let fromURL = try mirror(["--dry-run"], from: channelled.baseURL + "?channel=release")
        XCTAssertEqual(Self.results(fromURL.summary), [app: "would-copy"])
        let fromOption = try mirror(["--dry-run", "--channel", "dev"], from: channelled.baseURL)
        XCTAssertEqual(Self.results(fromOption.summary), [base: "would-copy", app: "would-copy"])
    }

    func testUnreachableSourceFailsClearly() throws {
        let closed = try ServerProcess([])
        try closed.start()
        let url = closed.baseURL
        closed.stop()
        let result = try ServerProcess.run(["mirror", "--from", url, "--storage", local.storage.path])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.output.contains("FAILED source"), result.output)
        let usage = try ServerProcess.run(["mirror", "--storage", local.storage.path])
        XCTAssertNotEqual(usage.status, 0)
        XCTAssertTrue(usage.output.contains("--from"), usage.output)
    }
}

/// A count shared with a scripted upstream's handler.
final class LockedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var remaining: Int
    init(_ count: Int) { remaining = count }

    /// True (and one fewer left) while any are left.
    func takeOne() -> Bool {
        lock.withLock {
            guard remaining > 0 else { return false }
            remaining -= 1
            return true
        }
    }
}
