import HTTPTypes
import Hummingbird
import NIOCore
@testable import IMGAPIServer
import XCTest

/// Large answers take turns, first come first served; a stalled one holds its turn no
/// longer than `maxWait`; small answers never wait.
final class LargeAnswerGateTests: XCTestCase {
    /// What the sockets received, in order: which answer got each slice.
    final class Wire: @unchecked Sendable {
        private let lock = NSLock()
        private var slices: [(answer: String, bytes: Int)] = []
        private var released: Set<String> = []
        private var waiters: [String: [CheckedContinuation<Void, Never>]] = [:]

        var received: [(answer: String, bytes: Int)] { lock.withLock { slices } }

        func bytes(of answer: String) -> Int {
            received.filter { $0.answer == answer }.reduce(0) { $0 + $1.bytes }
        }

        /// A slice arrived; a socket not yet released stalls until it is.
        func arrive(_ answer: String, _ bytes: Int) async {
            let stalled: Bool = lock.withLock {
                slices.append((answer, bytes))
                return !released.contains(answer)
            }
            guard stalled else { return }
            await withCheckedContinuation { continuation in
                let now: Bool = lock.withLock {
                    if released.contains(answer) { return true }
                    waiters[answer, default: []].append(continuation)
                    return false
                }
                if now { continuation.resume() }
            }
        }

        /// Lets `answer`'s client read everything from now on.
        func release(_ answer: String) {
            let waiting = lock.withLock {
                released.insert(answer)
                return waiters.removeValue(forKey: answer) ?? []
            }
            for continuation in waiting { continuation.resume() }
        }
    }

    /// A connection's writer: each slice goes on the wire.
    struct Socket: ResponseBodyWriter {
        let answer: String
        let wire: Wire
        mutating func write(_ buffer: ByteBuffer) async throws { await wire.arrive(answer, buffer.readableBytes) }
        consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
    }

    /// Polls `condition` every 10 ms for at most 10 s.
    func eventually(_ what: String, _ condition: () -> Bool) async throws {
        for _ in 0..<1000 where !condition() { try await Task.sleep(for: .milliseconds(10)) }
        XCTAssertTrue(condition(), "not within 10 s: \(what)")
    }

    func send(_ gate: LargeAnswerGate, _ bytes: Int, as answer: String, on wire: Wire) -> Task<Void, any Error> {
        Task { try await gate.body(ByteBuffer(repeating: 0x20, count: bytes)).write(Socket(answer: answer, wire: wire)) }
    }

    func testLargeAnswersTakeTurnsInTheOrderTheyCame() async throws {
        let gate = LargeAnswerGate(turns: 1, maxWait: .seconds(60))
        let wire = Wire()
        let size = 2 * LargeAnswerGate.slice + 1
        let first = send(gate, size, as: "first", on: wire)
        try await eventually("the first answer's first slice") { wire.bytes(of: "first") > 0 }
        let second = send(gate, size, as: "second", on: wire)
        try await eventually("the second answer waiting") { gate.waiters == 1 }
        let third = send(gate, size, as: "third", on: wire)
        try await eventually("the third answer waiting") { gate.waiters == 2 }
        XCTAssertEqual(wire.received.map(\.answer), ["first"], "nothing else is sent while the first answer has the turn")
        XCTAssertEqual(wire.bytes(of: "first"), LargeAnswerGate.slice, "an answer is written a slice at a time")

        for answer in ["first", "second", "third"] { wire.release(answer) }
        for task in [first, second, third] { try await task.value }
        var order: [String] = []
        for slice in wire.received where order.last != slice.answer { order.append(slice.answer) }
        XCTAssertEqual(order, ["first", "second", "third"], "one answer after the other, first come first served")
        for answer in ["first", "second", "third"] { XCTAssertEqual(wire.bytes(of: answer), size) }
        XCTAssertEqual(gate.waiters, 0)
    }

    func testAStalledClientHoldsItsTurnNoLongerThanMaxWait() async throws {
        let gate = LargeAnswerGate(turns: 1, maxWait: .milliseconds(300))
        let wire = Wire()
        let size = LargeAnswerGate.threshold
        let stalled = send(gate, size, as: "stalled", on: wire)
        try await eventually("the stalled answer's first slice") { wire.bytes(of: "stalled") > 0 }
        let started = ContinuousClock.now
        wire.release("next")
        let next = send(gate, size, as: "next", on: wire)
        try await next.value
        XCTAssertGreaterThanOrEqual(started.duration(to: .now), .milliseconds(300), "it waited for the turn first")
        XCTAssertEqual(wire.bytes(of: "next"), size, "then it was sent whole, without a turn")

        // The stalled answer ends; its turn is free again and nobody waits.
        wire.release("stalled")
        try await stalled.value
        wire.release("later")
        try await send(gate, size, as: "later", on: wire).value
        XCTAssertEqual(wire.bytes(of: "later"), size)
        XCTAssertEqual(gate.waiters, 0)
    }

    func testSmallAnswersNeverWait() async throws {
        let gate = LargeAnswerGate(turns: 1, maxWait: .seconds(60))
        let wire = Wire()
        let large = send(gate, LargeAnswerGate.threshold, as: "large", on: wire)
        try await eventually("the large answer's first slice") { wire.bytes(of: "large") > 0 }
        wire.release("small")
        try await send(gate, LargeAnswerGate.threshold - 1, as: "small", on: wire).value
        XCTAssertEqual(wire.bytes(of: "small"), LargeAnswerGate.threshold - 1, "sent while the large answer has the turn")
        XCTAssertEqual(gate.waiters, 0)
        wire.release("large")
        try await large.value
    }
}
