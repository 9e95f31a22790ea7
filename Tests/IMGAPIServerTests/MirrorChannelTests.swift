import Foundation
import IMGAPI
import XCTest

/// `imgapid mirror` (and the server's own mirrors) into a server with channels. Copies landed
/// in no channel, invisible to every client until a restart, and lost their upstream
/// channels; an origin outside the upstream channel was reported missing.
final class MirrorChannelTests: XCTestCase {
    var upstream: ServerProcess!
    var up: TestClient!
    var directory: URL!
    /// The local server's config: channels `stable` (the default) and `release`.
    var config: URL!

    let base = "ac000000-0000-4000-8000-000000000001"
    let child = "ac000000-0000-4000-8000-000000000002"
    let other = "ac000000-0000-4000-8000-000000000003"

    override func setUp() async throws {
        directory = try ServerProcess.temporaryDirectory()
        let upstreamConfig = directory.appendingPathComponent("upstream.json")
        try """
            {"trustedNetworks": ["127.0.0.1/32"], "channels": [{"name": "dev", "description": "d", "default": true},
                                                               {"name": "release", "description": "r"}]}
            """.write(to: upstreamConfig, atomically: true, encoding: .utf8)
        upstream = try ServerProcess(["--config", upstreamConfig.path])
        try upstream.start()
        up = TestClient(upstream)
        up.defaultHeaders.append(("Accept-Version", "~2"))
        config = directory.appendingPathComponent("local.json")
        try writeLocalConfig()
    }

    override func tearDown() async throws {
        upstream.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    func writeLocalConfig(mirrors: String = "") throws {
        try """
            {"trustedNetworks": ["127.0.0.1/32"], "validateStreams": false, "storageDir": "\(directory.appendingPathComponent("local").path)",
             "channels": [{"name": "stable", "description": "s", "default": true}, {"name": "release", "description": "r"}]
             \(mirrors)}
            """.write(to: config, atomically: true, encoding: .utf8)
    }

    /// Upstream: base in dev and release, child (of base) in dev, other in release only.
    func publishUpstream() async throws {
        try await up.publish(base, name: "base")
        expect(try await up.postJSON("/images/\(base)?action=channel-add", #"{"channel": "release"}"#), status: 200)
        try await up.publish(child, name: "child", extra: "\"origin\": \"\(base)\"")
        try await up.publish(other, name: "other")
        expect(try await up.postJSON("/images/\(other)?action=channel-add", #"{"channel": "release"}"#), status: 200)
        expect(try await up.request(.DELETE, "/images/\(other)?channel=dev"), status: 204)
    }

    func mirror(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try ServerProcess.run(["mirror", "--config", config.path, "--json", "--no-validate-streams"] + arguments)
    }

    /// The uuids each local channel lists, read through a server on the mirrored storage.
    func localChannels() async throws -> [String: Set<String>] {
        let local = try ServerProcess(["--config", config.path], storage: directory.appendingPathComponent("local"))
        try local.start()
        defer { local.stop() }
        var client = TestClient(local)
        client.defaultHeaders.append(("Accept-Version", "~2"))
        var listed: [String: Set<String>] = [:]
        for channel in ["stable", "release"] {
            let items = try await client.get("/images?channel=\(channel)").json().arrayValue ?? []
            listed[channel] = Set(items.compactMap { $0.objectValue?["uuid"]?.stringValue })
        }
        return listed
    }

    func testCopiesGoToTheirUpstreamChannelsThatExistHereElseTheDefault() async throws {
        try await publishUpstream()
        let fromDev = try mirror(["--from", upstream.baseURL])
        XCTAssertEqual(fromDev.status, 0, fromDev.output)
        let fromRelease = try mirror(["--from", upstream.baseURL + "?channel=release"])
        XCTAssertEqual(fromRelease.status, 0, fromRelease.output)
        // base keeps its upstream channel release and joins stable, where its child is.
        let listed = try await localChannels()
        XCTAssertEqual(listed, ["stable": [base, child], "release": [base, other]])
    }

    func testGivenChannelTakesEveryCopy() async throws {
        try await publishUpstream()
        let run = try mirror(["--from", upstream.baseURL, "--channel", "release"])
        XCTAssertEqual(run.status, 0, run.output)
        let listed = try await localChannels()
        XCTAssertEqual(listed, ["stable": [], "release": [base, other]])

        let unknown = try mirror(["--from", upstream.baseURL, "--channel", "dev"])
        XCTAssertNotEqual(unknown.status, 0)
        XCTAssertTrue(unknown.output.contains(#"channel "dev" is not a channel of this server (stable, release)"#), unknown.output)
    }

    /// An offline bundle carries channels as a mirror copies them: those that exist here,
    /// else the default, and an origin joins the channels of the images built on it.
    func testBundleImportsKeepTheChannelsThatExistHere() async throws {
        try await publishUpstream()
        let bundle = directory.appendingPathComponent("bundle.tar").path
        let exported = try ServerProcess.run(["export", "--storage", upstream.storage.path, "--to", bundle])
        XCTAssertEqual(exported.status, 0, exported.output)
        let imported = try ServerProcess.run(["import-bundle", bundle, "--config", config.path, "--no-validate-streams"])
        XCTAssertEqual(imported.status, 0, imported.output)
        let listed = try await localChannels()
        XCTAssertEqual(listed, ["stable": [base, child], "release": [base, other]])
    }

    /// The server's own mirror: its copies are listed in their channels at once.
    func testServerMirrorsIntoChannelsVisibleAtOnce() async throws {
        try await publishUpstream()
        try writeLocalConfig(mirrors: #", "mirrors": [{"from": "\#(upstream.baseURL)", "interval": 3600}]"#)
        let local = try ServerProcess(["--config", config.path])
        try local.start()
        defer { local.stop() }
        XCTAssertTrue(local.waitForLogLine { $0.contains("mirror run") }, "no mirror run was logged")
        let listed = try await TestClient(local).get("/images?channel=stable").json().arrayValue ?? []
        XCTAssertEqual(Set(listed.compactMap { $0.objectValue?["uuid"]?.stringValue }), [base, child])
    }

    /// An upstream (like the reference) whose child in `dev` has its origin only in
    /// `release`: the origin is found across channels and copied first.
    func testOriginInAnotherUpstreamChannelIsFound() async throws {
        let baseBytes = Fixture.bytes(3000, seed: 1)
        let childBytes = Fixture.bytes(2000, seed: 2)
        let (base, child) = (self.base, self.child)
        @Sendable func manifest(_ uuid: String, _ bytes: [UInt8], _ extra: String) -> String {
            Fixture.manifest(uuid: uuid, extra: """
                "state": "active", "published_at": "2030-01-01T00:00:00Z", \(extra)
                "files": [{"sha1": "\(Fixture.sha1(bytes))", "size": \(bytes.count), "compression": "gzip"}]
                """)
        }
        let scripted = try ScriptedUpstream { _, uri in
            let everywhere = uri.hasSuffix("channel=*")
            switch uri.split(separator: "?").first.map(String.init) ?? uri {
            case "/images": return .json(status: 200, "[" + manifest(child, childBytes, #""origin": "\#(base)", "channels": ["dev"],"#) + "]")
            case "/images/\(base)" where everywhere: return .json(status: 200, manifest(base, baseBytes, #""channels": ["release"],"#))
            case "/images/\(base)/file" where everywhere: return .bytes(baseBytes)
            case "/images/\(child)/file": return .bytes(childBytes)
            default: return .json(status: 404, #"{"code": "ResourceNotFound", "message": "not found"}"#)
            }
        }
        defer { scripted.stop() }
        let storage = directory.appendingPathComponent("plain")
        let run = try ServerProcess.run(["mirror", "--from", scripted.baseURL + "?channel=dev", "--storage", storage.path, "--json",
                                        "--no-validate-streams"])
        XCTAssertEqual(run.status, 0, run.output)
        let summary = try XCTUnwrap(try JSONValue.parse(Array(run.output.utf8)).objectValue)
        XCTAssertEqual(MirrorTests.results(summary), [base: "copied", child: "copied"], run.output)
    }
}
