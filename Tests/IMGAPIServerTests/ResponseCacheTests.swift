import NIOCore
import IMGAPI
@testable import IMGAPIServer
import XCTest

/// The response cache: listings keyed by the parsed query, bounded by bytes, one rendering per miss.
final class ResponseCacheTests: XCTestCase {
    func key(_ query: String) throws -> ResponseCache.Key {
        let pairs = query.split(separator: "&").map { part -> (String, String) in
            let kv = part.split(separator: "=", maxSplits: 1)
            return (String(kv[0]), kv.count > 1 ? String(kv[1]) : "")
        }
        return .listing(query: try ListImagesQuery(query: pairs), authenticated: false, showsChannels: false, adminFields: false)
    }

    /// Counts renderings; each makes `bytes` spaces.
    final class Renderer: @unchecked Sendable {
        private let lock = NSLock()
        private var count = 0
        var renders: Int { lock.withLock { count } }

        func render(_ bytes: Int) -> @Sendable () async throws -> ResponseCache.Answer {
            { self.lock.withLock { self.count += 1 }; return .init(body: ByteBuffer(repeating: 0x20, count: bytes)) }
        }
    }

    func testJunkParametersShareOneEntryAndBytesAreBounded() async throws {
        let cache = ResponseCache(maxBytes: 1000)
        let renderer = Renderer()
        func ask(_ query: String, generation: Int64 = 1, bytes: Int = 400) async throws -> Int {
            let before = renderer.renders
            _ = try await cache.answer(for: try key(query), generation: generation, render: renderer.render(bytes))
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

    /// Past the entry bound the least recently used answers go, and an eighth more with them.
    func testEntryBoundDropsLeastRecentlyUsedFirst() async throws {
        let cache = ResponseCache(maxBytes: 1 << 20, maxEntries: 16)
        let renderer = Renderer()
        func ask(_ n: Int) async throws -> Int {
            let before = renderer.renders
            _ = try await cache.answer(for: try key("name=\(n)"), generation: 1, render: renderer.render(10))
            return renderer.renders - before
        }
        for n in 0..<16 { _ = try await ask(n) }
        var steps: [(name: Int, renders: Int, why: String)] = (2..<16).map { ($0, 0, "cached") }
        steps += [(16, 1, "a seventeenth answer"), (15, 0, "recently used answers stay"),
                  (0, 1, "the least recently used answer went"), (1, 1, "and the next least recently used with it")]
        for step in steps {
            let renders = try await ask(step.name)
            XCTAssertEqual(renders, step.renders, "name=\(step.name): \(step.why)")
        }
    }

    /// Clients that miss together wait for one rendering instead of each making their own.
    func testConcurrentMissesRenderOnce() async throws {
        let cache = ResponseCache(maxBytes: 1 << 20)
        let renderer = Renderer()
        let (started, startedContinuation) = AsyncStream<Void>.makeStream()
        let (gate, gateContinuation) = AsyncStream<Void>.makeStream()
        let render = renderer.render(100)
        let key = try key("os=smartos")
        let first = Task {
            try await cache.answer(for: key, generation: 1) {
                startedContinuation.yield()
                for await _ in gate { break }
                return try await render()
            }
        }
        for await _ in started { break }
        let others = (0..<7).map { _ in Task { try await cache.answer(for: key, generation: 1, render: render) } }
        gateContinuation.yield()
        var sizes = [try await first.value.body.readableBytes]
        for other in others { sizes.append(try await other.value.body.readableBytes) }
        XCTAssertEqual(sizes, Array(repeating: 100, count: 8))
        XCTAssertEqual(renderer.renders, 1)
    }
}
