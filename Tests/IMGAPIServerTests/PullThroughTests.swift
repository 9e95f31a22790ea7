import Foundation
import IMGAPI
import XCTest

/// The pull-through cache (config `upstreams`): a caching imgapid in front of real upstream
/// imgapid processes, asked what stock imgadm asks (`Accept-Version: ~2`, paging with
/// `limit` and `marker`, then the file).
final class PullThroughTests: XCTestCase {
    var upstream: ServerProcess!
    var up: TestClient!
    /// The caching server (started by each test with its config).
    var cache: ServerProcess?
    let imgadm: [(String, String)] = [("Accept-Version", "~2"), ("User-Agent", "imgadm/3.9.4")]

    let base = "c1000000-0000-4000-8000-000000000001"
    let child = "c1000000-0000-4000-8000-000000000002"
    let other = "c1000000-0000-4000-8000-000000000003"
    let fourth = "c1000000-0000-4000-8000-000000000004"

    override func setUp() async throws {
        upstream = try ServerProcess(["--trust-network", "127.0.0.1/32"])
        try upstream.start()
        up = TestClient(upstream)
    }

    override func tearDown() async throws {
        upstream.stop()
        cache?.stop()
    }

    /// Starts the caching server on `upstreams` (URLs), with more config keys in `extra` and
    /// each upstream's `name` filter when given.
    @discardableResult
    func startCache(_ upstreams: [String], ttl: Int = 300, name: String? = nil, extra: String = "") throws -> TestClient {
        let directory = try ServerProcess.temporaryDirectory()
        let config = directory.appendingPathComponent("config.json")
        let filter = name.map { ", \"name\": \"\($0)\"" } ?? ""
        let list = upstreams.map { "{\"url\": \"\($0)\", \"ttl\": \(ttl)\(filter)}" }.joined(separator: ", ")
        try Data("{\"upstreams\": [\(list)]\(extra.isEmpty ? "" : ", " + extra)}".utf8).write(to: config)
        let server = try ServerProcess(["--config", config.path, "--trust-network", "127.0.0.1/32"])
        try server.start()
        cache = server
        return TestClient(server)
    }

    /// The uuids ListImages gives, as imgadm asks.
    func listed(_ client: TestClient, _ path: String) async throws -> [String] {
        let result = try await client.get(path, headers: imgadm)
        expect(result, status: 200)
        return try uuids(result)
    }

    func uuids(_ result: HTTPResult) throws -> [String] {
        try XCTUnwrap(result.json().arrayValue).compactMap { $0.objectValue?["uuid"]?.stringValue }
    }

    /// Requests for the file the upstream has logged.
    func upstreamFileRequests(_ uuid: String) async throws -> [String] {
        try await upstream.settledLogLines()
            .filter { $0.contains("\"url\":\"/images/\(uuid)/file\"") && $0.contains("\"method\":\"GET\"") }
    }

    /// Two upstreams and local images: the merged listing is ordered, filtered and paged as
    /// one catalog, a local image shadows an upstream one, and the first upstream wins a uuid.
    func testListingsMergeUpstreamsAndLocalImages() async throws {
        let second = try ServerProcess(["--trust-network", "127.0.0.1/32"])
        try second.start()
        defer { second.stop() }
        let down = TestClient(second)
        try await up.publish(base, name: "alpha", extra: #""published_at": "2030-01-01T00:00:00Z""#)
        try await up.publish(child, name: "beta", os: "linux", type: "lx-dataset", extra: #""published_at": "2030-01-03T00:00:00Z""#)
        try await up.publish(fourth, name: "from-first", extra: #""published_at": "2030-01-05T00:00:00Z""#)
        try await down.publish(fourth, name: "from-second", extra: #""published_at": "2030-01-05T00:00:00Z""#)
        try await down.publish(other, name: "gamma", extra: #""published_at": "2030-01-02T00:00:00Z""#)
        let client = try startCache([upstream.baseURL, second.baseURL])
        let local = "c1000000-0000-4000-8000-0000000000aa"
        try await client.publish(local, name: "local", extra: #""published_at": "2030-01-04T00:00:00Z""#)
        // The local copy of `child` shadows the upstream one (which is linux).
        try await client.publish(child, name: "beta-here", extra: #""published_at": "2030-01-03T00:00:00Z""#)

        let all = try await client.get("/images", headers: imgadm)
        expect(all, status: 200)
        XCTAssertEqual(try uuids(all), [base, other, child, local, fourth])
        let names = try XCTUnwrap(all.json().arrayValue).compactMap { $0.objectValue?["name"]?.stringValue }
        XCTAssertEqual(names, ["alpha", "gamma", "beta-here", "local", "from-first"])
        XCTAssertNil(all.header("Upstream-Stale"))

        let linux = try await listed(client, "/images?os=linux")
        XCTAssertEqual(linux, [], "the linux image upstream is shadowed")
        let gamma = try await listed(client, "/images?name=gamma")
        XCTAssertEqual(gamma, [other])
        let withA = try await listed(client, "/images?name=~a&sort=published_at.desc")
        XCTAssertEqual(withA, [local, child, other, base], "names containing \"a\", newest first")
        let firstTwo = try await listed(client, "/images?limit=2")
        XCTAssertEqual(firstTwo, [base, other])

        // imgadm's paging: inclusive markers, upstream and local alike, until a short page.
        var paged: [String] = []
        var marker: String?
        for _ in 0..<10 {
            let page = try await listed(client, "/images?limit=2" + (marker.map { "&marker=\($0)" } ?? ""))
            paged += page.filter { !paged.contains($0) }
            guard page.count == 2 else { break }
            marker = page.last
        }
        XCTAssertEqual(paged, [base, other, child, local, fourth])
        let fromUpstreamMarker = try await listed(client, "/images?marker=\(other)&limit=2")
        XCTAssertEqual(fromUpstreamMarker, [other, child], "a marker naming an upstream image")
        expect(try await client.get("/images?marker=c1000000-0000-4000-8000-0000000000ff", headers: imgadm), status: 404)

        let shown = try await client.get("/images/\(other)", headers: imgadm)
        expect(shown, status: 200)
        let manifest = try shown.object()
        XCTAssertEqual(manifest["name"]?.stringValue, "gamma")
        XCTAssertEqual(manifest["files"]?.arrayValue?.first?.objectValue?["sha1"]?.stringValue, Fixture.sha1(Fixture.bytes(1024)))
        XCTAssertNotNil(manifest["files"]?.arrayValue?.first?.objectValue?["digest"], "the upstream's digest is shown")
        let firstWins = try await client.get("/images/\(fourth)", headers: imgadm).object()
        XCTAssertEqual(firstWins["name"]?.stringValue, "from-first")
        let shadowing = try await client.get("/images/\(child)", headers: imgadm).object()
        XCTAssertEqual(shadowing["name"]?.stringValue, "beta-here")
        expect(try await client.get("/images/c1000000-0000-4000-8000-0000000000ff", headers: imgadm), status: 404)
    }
}

extension PullThroughTests {
    /// A caching server with channels places upstream images as a mirror would: in their
    /// upstream channels that exist here, else in the default channel; listings and files
    /// by `?channel=` see them there only, and a fetched image keeps those channels.
    func testUpstreamImagesGoWhereAMirrorWouldPutThem() async throws {
        try await up.publish(base, name: "plain", extra: #""published_at": "2030-01-01T00:00:00Z""#)
        let client = try startCache([upstream.baseURL], extra: """
            "channels": [{"name": "stable", "description": "s", "default": true}, {"name": "dev", "description": "d"}]
            """)
        let dev = "c1000000-0000-4000-8000-0000000000dd"
        try await client.publish(dev, name: "local-dev", extra: #""published_at": "2030-01-02T00:00:00Z""#)
        let inDev = try await client.get("/images?channel=dev", headers: imgadm)
        XCTAssertEqual(try uuids(inDev), [], "nothing published locally went to dev, and upstream images go to the default")
        let inStable = try await listed(client, "/images?channel=stable")
        XCTAssertEqual(inStable, [base, dev])
        let shown = try await client.get("/images/\(base)?channel=stable", headers: imgadm)
        XCTAssertEqual(try shown.object()["channels"], .array([.string("stable")]))
        expect(try await client.get("/images/\(base)/file?channel=dev", headers: imgadm), status: 404)
        expect(try await client.get("/images/\(base)/file?channel=stable", headers: imgadm), status: 200)
        let stored = try await client.get("/images/\(base)?channel=*", headers: imgadm)
        XCTAssertEqual(try stored.object()["channels"], .array([.string("stable")]), "the fetched copy keeps its channel")
    }
}

extension PullThroughTests {
    /// An upstream's `name` filter: only its images of that name are offered (and fetched).
    func testUpstreamNameFilter() async throws {
        try await up.publish(base, name: "base-64-lts", extra: #""published_at": "2030-01-01T00:00:00Z""#)
        try await up.publish(child, name: "minimal-64", extra: #""published_at": "2030-01-02T00:00:00Z""#)
        try await up.publish(other, name: "base-64", extra: #""published_at": "2030-01-03T00:00:00Z""#)
        let client = try startCache([upstream.baseURL], name: "~base")
        let offered = try await listed(client, "/images")
        XCTAssertEqual(offered, [base, other])
        expect(try await client.get("/images/\(child)", headers: imgadm), status: 404)
        expect(try await client.get("/images/\(child)/file", headers: imgadm), status: 404)
        expect(try await client.get("/images/\(other)/file", headers: imgadm), status: 200)
    }
}
