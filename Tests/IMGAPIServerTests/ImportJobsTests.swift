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
