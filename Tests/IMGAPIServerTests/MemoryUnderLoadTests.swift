import AsyncHTTPClient
import Foundation
import IMGAPI
import ImageStore
import NIOCore
import XCTest

/// 64 clients at once against a 10,000-image catalog: full listings (re-rendered while
/// publishes land), downloads and publishes. The server's peak memory stays under 200 MiB;
/// it reached 227 MB with fewer images, when every client that missed the listing cache
/// rendered the listing itself.
final class MemoryUnderLoadTests: XCTestCase {
    let template = "a0000000-0000-4000-8000-000000000000"

    /// A catalog of `count` active images copied from one published image (one shared file).
    func makeCatalog(_ server: ServerProcess, count: Int) async throws {
        try await TestClient(server).publish(template, file: Fixture.bytes(4 * 1024 * 1024, seed: 41))
        server.stop()
        let repository = try ImageRepository(storage: server.storage.path, mode: nil)
        guard let record = try await repository.catalog.image(template)?.record else { throw TestFailure("no template") }
        try await repository.catalog.exclusive { catalog in
            try catalog.transaction {
                for i in 1...count {
                    var copy = record
                    copy["uuid"] = .string(String(format: "a%07x-0000-4000-8000-%012x", i, i))
                    copy["name"] = .string("load-\(i % 50)")
                    copy["version"] = .string("1.\(i)")
                    copy["description"] = .string("image \(i) of a catalog the size of a public mirror's")
                    try catalog.save(copy)
                }
            }
        }
    }

    func testPeakMemoryWithManyClients() async throws {
        let storage = URL(fileURLWithPath: "/dev/shm").appendingPathComponent("imgapid-load-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: storage) }
        let first = try ServerProcess(["--trust-network", "127.0.0.1/32"], storage: storage)
        try first.start()
        try await makeCatalog(first, count: 10_000)
        let server = try first.restarted()
        defer { server.stop() }

        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(
            timeout: .init(connect: .seconds(10), read: .seconds(120)), decompression: .disabled))
        @Sendable func get(_ path: String) async throws -> Int {
            let response = try await http.execute(HTTPClientRequest(url: server.baseURL + path), timeout: .seconds(300))
            guard response.status == .ok else { throw TestFailure("GET \(path): \(response.status)") }
            var bytes = 0
            for try await part in response.body { bytes += part.readableBytes }
            return bytes
        }
        let listing: Int
        do {
            listing = try await get("/images")
            XCTAssertGreaterThan(listing, 10_000 * 500)
            try await load(server, listing: listing, get: get)
            try await http.shutdown()
        } catch {
            try? await http.shutdown()
            throw error
        }
        let peak = try XCTUnwrap(server.peakResidentBytes)
        print("MemoryUnderLoadTests: peak RSS \(peak / 1_048_576) MiB, listing \(listing) bytes")
        // The goal is under 200 MiB. Shared renderings peak at 140-161 MiB here; a herd of
        // renderings per client, as before, at 199-209 MiB: 184 sits between with room for noise.
        XCTAssertLessThan(peak, 184 * 1024 * 1024, "server peak RSS \(peak / 1_048_576) MiB")
    }

    /// 64 clients, three rounds each: one in eight publishes, one downloads, six list (the
    /// `imgadm avail` of many compute nodes, each publish making the listing new).
    func load(_ server: ServerProcess, listing: Int, get: @escaping @Sendable (String) async throws -> Int) async throws {
        let template = self.template
        try await withThrowingTaskGroup(of: Void.self) { group in
            for client in 0..<64 {
                group.addTask {
                    for round in 0..<3 {
                        switch client % 8 {
                        case 0:
                            let uuid = String(format: "b%07x-0000-4000-8000-%012x", client, round)
                            try await TestClient(server).publish(uuid, name: "fresh", version: "\(client).\(round)",
                                                                 file: Fixture.bytes(1024 * 1024, seed: UInt64(client * 10 + round)))
                        case 1:
                            guard try await get("/images/\(template)/file") == 4 * 1024 * 1024 else {
                                throw TestFailure("short download")
                            }
                        default:
                            guard try await get("/images") >= listing else { throw TestFailure("short listing") }
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
    }
}
