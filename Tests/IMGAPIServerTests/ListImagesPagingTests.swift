import Foundation
import IMGAPI
import XCTest

/// `imgadm avail` paging against a catalog larger than one page (spec §1.2): a bare request
/// returns every image; imgadm's loop (`limit=1000&marker=<last uuid>`, drop the first
/// item of each later page) sees each image exactly once and terminates.
final class ListImagesPagingTests: XCTestCase {
    static let imageCount = 1005

    func testImgadmPagingSeesEveryImageOnceEvenWhenPublishTimesTie() async throws {
        let server = try ServerProcess(["--trust-network", "127.0.0.1/32"])
        try server.start()
        defer { server.stop() }
        let client = TestClient(server)
        // Eleven images share each publish time, so pages start in the middle of a tie.
        var published: [(uuid: String, at: String)] = []
        for i in 0..<Self.imageCount {
            let uuid = String(format: "%08x-0000-4000-8000-%012x", (i * 7919) % 4096 + 1, i)
            let at = String(format: "2021-%02d-%02dT00:00:00Z", i / 11 / 28 % 12 + 1, i / 11 % 28 + 1)
            try await client.publish(uuid, name: "image-\(i % 40)", version: "1.\(i)",
                                     extra: "\"published_at\": \"\(at)\"", file: Fixture.bytes(64, seed: 3))
            published.append((uuid, at))
        }
        let expected = published.sorted { ($0.at, $0.uuid) < ($1.at, $1.uuid) }.map(\.uuid)

        let all = try await uuids(client, "/images")
        XCTAssertEqual(all.count, Self.imageCount, "no limit: every image in one reply")
        XCTAssertEqual(all, expected, "oldest first, ties in uuid order")

        var seen: [String] = []
        var page = try await uuids(client, "/images?limit=1000")
        seen += page
        var requests = 1
        while page.count >= 1000 {
            page = try await uuids(client, "/images?limit=1000&marker=\(seen.last!)")
            XCTAssertEqual(page.first, seen.last, "the marker is inclusive")
            seen += page.dropFirst()
            requests += 1
            guard requests < 10 else { return XCTFail("paging does not terminate") }
        }
        XCTAssertEqual(seen, expected)
        XCTAssertEqual(requests, 2)

        // Newest first, paged the same way, is the exact reverse.
        var newest = try await uuids(client, "/images?sort=published_at.desc&limit=500")
        for _ in 0..<20 where newest.count < Self.imageCount {
            let next = try await uuids(client, "/images?sort=published_at.desc&limit=500&marker=\(newest.last!)")
            XCTAssertGreaterThan(next.count, 1)
            newest += next.dropFirst()
        }
        XCTAssertEqual(newest, expected.reversed())
    }

    func uuids(_ client: TestClient, _ path: String) async throws -> [String] {
        let result = try await client.get(path)
        guard result.status == 200, let items = try result.json().arrayValue else {
            throw TestFailure("\(path): \(result.status) \(result.text.prefix(200))")
        }
        return items.compactMap { $0.objectValue?["uuid"]?.stringValue }
    }
}
