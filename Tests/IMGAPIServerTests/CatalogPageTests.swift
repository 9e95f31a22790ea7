import Foundation
import IMGAPI
import XCTest

/// The web catalog read by a real browser (Debian's chromium, headless): the list, search
/// and filters, paging, the image page with its digests and import command, and a hostile
/// description that stays text. A screenshot of each page is kept in .build/test-artifacts.
final class CatalogPageTests: XCTestCase {
    var server: ServerProcess!
    let base = "ca7a0000-0000-4000-8000-000000000001"
    let app = "ca7a0000-0000-4000-8000-000000000002"
    let lx = "ca7a0000-0000-4000-8000-000000000003"
    let hostile = #"<script>document.body.setAttribute('data-pwned','1')</script><img src=x onerror="document.body.setAttribute('data-pwned','2')">"#
    static let artifacts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".build/test-artifacts")

    override func setUp() async throws {
        server = try ServerProcess(["--trust-network", "127.0.0.1/32"])
        try server.start()
    }

    override func tearDown() async throws {
        server.stop()
    }

    func chromium(_ arguments: [String]) throws -> String {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium") else {
            if ProcessInfo.processInfo.environment["CI"] == "true" { throw TestFailure("chromium is missing (scripts/setup installs it)") }
            throw XCTSkip("chromium is not installed")
        }
        let profile = try ServerProcess.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: profile) }
        let run = try ChildProcess.run("/usr/bin/chromium", [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            "--user-data-dir=\(profile.path)",
            "--window-size=1280,900", "--hide-scrollbars",
        ] + arguments, timeout: 120)
        XCTAssertEqual(run.status, 0, run.output)
        return run.output
    }

    /// The page as the browser built it, after any script would have run.
    func dom(_ path: String) throws -> String {
        try chromium(["--dump-dom", server.baseURL + path])
    }

    func screenshot(_ path: String, as name: String) throws {
        try FileManager.default.createDirectory(at: Self.artifacts, withIntermediateDirectories: true)
        let file = Self.artifacts.appendingPathComponent(name)
        try? FileManager.default.removeItem(at: file)
        _ = try chromium(["--screenshot=\(file.path)", server.baseURL + path])
        let png = try Data(contentsOf: file)
        XCTAssertGreaterThan(png.count, 10_000, "a page was drawn")
        XCTAssertEqual(Array(png.prefix(4)), [0x89, 0x50, 0x4E, 0x47], "a PNG")
    }

    func rows(_ dom: String) -> Int {
        dom.components(separatedBy: #"<tr class="image">"#).count - 1
    }

    func testListSearchFilterAndTheImagePage() async throws {
        let client = TestClient(server)
        try await client.publish(base, name: "base-64", version: "24.4.0", file: Fixture.bytes(4000, seed: 1))
        let appFile = Fixture.bytes(3000, seed: 2)
        try await client.publish(app, name: "webapp", version: "1.2.0",
                                 extra: #""origin": "\#(base)", "description": \#(JSONValue.string(hostile).compact()), "tags": {"role": "web"}"#,
                                 file: appFile)
        try await client.publish(lx, name: "ubuntu", version: "22.04", os: "linux", type: "lx-dataset", file: Fixture.bytes(2000, seed: 3))

        let list = try dom("/ui/")
        XCTAssertEqual(rows(list), 3, list)
        XCTAssertLessThan(list.range(of: "ubuntu")!.lowerBound, list.range(of: "base-64")!.lowerBound, "newest first")
        XCTAssertFalse(list.contains("data-pwned="), "the hostile description ran")
        XCTAssertTrue(list.contains("&lt;script&gt;document.body"), "the hostile description is shown as text")
        try screenshot("/ui/", as: "catalog-list.png")

        let searched = try dom("/ui/?name=web")
        XCTAssertEqual(rows(searched), 1, searched)
        XCTAssertTrue(searched.contains("/ui/images/\(app)"))
        let linux = try dom("/ui/?os=linux")
        XCTAssertEqual(rows(linux), 1)
        XCTAssertTrue(linux.contains("ubuntu"))
        XCTAssertEqual(rows(try dom("/ui/?type=zvol")), 0)

        let page = try dom("/ui/images/\(app)")
        XCTAssertTrue(page.contains("imgadm import \(app)"), page)
        XCTAssertTrue(page.contains(Fixture.sha1(appFile)), "sha1 shown")
        XCTAssertTrue(page.contains(Fixture.sha256(appFile)), "sha256 shown")
        XCTAssertTrue(page.contains(#"href="/ui/images/\#(base)""#), "the origin is a link")
        XCTAssertTrue(page.contains("role=web"))
        XCTAssertFalse(page.contains("data-pwned="), "the hostile description ran on the image page")
        try screenshot("/ui/images/\(app)", as: "catalog-image.png")

        // A browser at / is sent to the catalog; an API client still gets a 404.
        let browser = try RawHTTP.exchange(port: server.port, lines: ["GET / HTTP/1.1", "Host: x", "Accept: text/html", "Connection: close"])
        XCTAssertEqual(RawHTTP.status(of: browser), 302)
        XCTAssertTrue(browser.contains("Location: /ui/") || browser.contains("location: /ui/"), browser)
        let api = try RawHTTP.exchange(port: server.port, lines: ["GET / HTTP/1.1", "Host: x", "Accept: application/json", "Connection: close"])
        XCTAssertEqual(RawHTTP.status(of: api), 404)
    }

    func testPagingShowsEveryImageOnce() async throws {
        let client = TestClient(server)
        let uuids = (1...53).map { String(format: "ca7b0000-0000-4000-8000-%012d", $0) }
        for uuid in uuids { try await client.publish(uuid, name: "img", file: Fixture.bytes(100, seed: 9)) }
        let first = try dom("/ui/")
        XCTAssertEqual(rows(first), 50)
        let next = try XCTUnwrap(first.range(of: #"rel="next" href=""#).map { first[$0.upperBound...].prefix { $0 != "\"" } })
        let second = try dom(String(next).replacingOccurrences(of: "&amp;", with: "&"))
        XCTAssertEqual(rows(second), 3)
        XCTAssertFalse(second.contains(#"rel="next""#), "no page after the last")
        let shown = (first + second).components(separatedBy: "/ui/images/").dropFirst().map { String($0.prefix(36)) }
        XCTAssertEqual(Set(shown), Set(uuids))
        XCTAssertEqual(shown.count, uuids.count, "none twice")
    }
}
