import NIOCore
import IMGAPI
@testable import IMGAPIServer
import XCTest

/// The table of remote-import jobs is bounded: finished jobs expire, running ones are capped.
final class ImportJobsTests: XCTestCase {
    final class Clock: @unchecked Sendable {
        var now: Int64 = 1_000_000
    }

    func testFinishedJobsExpireAndTheTableIsBounded() async throws {
        let clock = Clock()
        let jobs = ImportJobs(capacity: 3, finishedLifetime: 60_000, clock: { clock.now })
        let first = try await jobs.start(imageUUID: "a", source: "s", total: 1)
        await jobs.finish(first, error: nil)
        let second = try await jobs.start(imageUUID: "b", source: "s", total: 1)
        let third = try await jobs.start(imageUUID: "c", source: "s", total: 1)
        // Full: the finished job makes room for a new one.
        let fourth = try await jobs.start(imageUUID: "d", source: "s", total: 1)
        let forgotten = await jobs.json(first)
        XCTAssertNil(forgotten)
        // Full of running jobs: refused with 503.
        do {
            _ = try await jobs.start(imageUUID: "e", source: "s", total: 1)
            XCTFail("a fourth running job was accepted")
        } catch {
            XCTAssertEqual(error.status, 503)
        }
        await jobs.finish(second, error: nil)
        clock.now += 59_000
        let kept = await jobs.json(second)
        XCTAssertNotNil(kept, "a finished job stays readable for its lifetime")
        clock.now += 2_000
        _ = try await jobs.start(imageUUID: "f", source: "s", total: 1)
        let expired = await jobs.json(second)
        XCTAssertNil(expired, "a finished job is forgotten after its lifetime")
        let running = await jobs.json(third)
        XCTAssertNotNil(running)
        _ = fourth
    }
}

/// The ListImages cache is keyed by the parsed query and bounded by bytes.
final class ListingCacheTests: XCTestCase {
    func key(_ query: String) throws -> ListingCache.Key {
        let pairs = query.split(separator: "&").map { part -> (String, String) in
            let kv = part.split(separator: "=", maxSplits: 1)
            return (String(kv[0]), kv.count > 1 ? String(kv[1]) : "")
        }
        return ListingCache.Key(query: try ListImagesQuery(query: pairs), authenticated: false, showsChannels: false, adminFields: false)
    }

    /// Counts renderings; each makes `bytes` spaces.
    final class Renderer: @unchecked Sendable {
        private let lock = NSLock()
        private var count = 0
        var renders: Int { lock.withLock { count } }

        func render(_ bytes: Int) -> @Sendable () async throws -> ByteBuffer {
            { self.lock.withLock { self.count += 1 }; return ByteBuffer(repeating: 0x20, count: bytes) }
        }
    }

    func testJunkParametersShareOneEntryAndBytesAreBounded() async throws {
        let cache = ListingCache(maxBytes: 1000)
        let renderer = Renderer()
        func ask(_ query: String, generation: Int64 = 1, bytes: Int = 400) async throws -> Int {
            let before = renderer.renders
            _ = try await cache.body(for: try key(query), generation: generation, render: renderer.render(bytes))
            return renderer.renders - before
        }
        let steps: [(query: String, generation: Int64, bytes: Int, renders: Int, why: String)] = [
            ("os=smartos&junk=1", 1, 400, 1, "first ask"),
            ("junk=2&os=smartos", 1, 400, 0, "junk parameters are not part of the key"),
            ("os=smartos", 2, 400, 1, "a newer catalog is never answered from the cache"),
            ("os=linux", 2, 400, 1, "first ask"),
            ("os=smartos", 2, 400, 0, "cached"),
            ("name=x", 2, 400, 1, "first ask"),
            ("os=linux", 2, 400, 1, "the least recently used answer goes first"),
            ("name=y", 2, 1001, 1, "first ask"),
            ("name=y", 2, 1001, 1, "an answer larger than the whole cache is not kept"),
        ]
        for step in steps {
            let renders = try await ask(step.query, generation: step.generation, bytes: step.bytes)
            XCTAssertEqual(renders, step.renders, "\(step.query): \(step.why)")
        }
    }

    /// Clients that miss together wait for one rendering instead of each making their own.
    func testConcurrentMissesRenderOnce() async throws {
        let cache = ListingCache(maxBytes: 1 << 20)
        let renderer = Renderer()
        let (started, startedContinuation) = AsyncStream<Void>.makeStream()
        let (gate, gateContinuation) = AsyncStream<Void>.makeStream()
        let render = renderer.render(100)
        let key = try key("os=smartos")
        let first = Task {
            try await cache.body(for: key, generation: 1) {
                startedContinuation.yield()
                for await _ in gate { break }
                return try await render()
            }
        }
        for await _ in started { break }
        let others = (0..<7).map { _ in Task { try await cache.body(for: key, generation: 1, render: render) } }
        gateContinuation.yield()
        var sizes = [try await first.value.readableBytes]
        for other in others { sizes.append(try await other.value.readableBytes) }
        XCTAssertEqual(sizes, Array(repeating: 100, count: 8))
        XCTAssertEqual(renderer.renders, 1)
    }
}
