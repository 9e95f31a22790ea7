import Foundation
import Hummingbird
import NIOCore

/// Sends large answers (whole-catalog listings, megabytes each) a few at a time, first come
/// first served. Written all at once to many sockets, such answers finish in no fair order:
/// with 64 clients of a 10,000-image listing some waited 20 times as long as the median.
/// In turn, every client waits about as long as the others.
///
/// A slow reader holds its turn no longer than `maxWait`: whoever has waited that long is
/// sent at once without a turn, so a few stalled clients cannot hold up the rest.
final class LargeAnswerGate: @unchecked Sendable {
    /// Answers this large or larger take turns; smaller ones are sent at once.
    static let threshold = 512 * 1024
    /// Each write of a large answer: small enough to wait for the socket between slices.
    static let slice = 1024 * 1024

    private let lock = NSLock()
    private var free: Int
    private var order = CircularBuffer<UInt64>()
    private var waiting: [UInt64: (continuation: CheckedContinuation<Bool, Never>, timer: Task<Void, Never>)] = [:]
    private var nextID: UInt64 = 0
    private let maxWait: Duration

    /// `turns`: answers sent at once (about one per core keeps the cores busy).
    init(turns: Int = max(2, ProcessInfo.processInfo.activeProcessorCount), maxWait: Duration = .seconds(2)) {
        free = turns
        self.maxWait = maxWait
    }

    /// Answers waiting for their turn now.
    var waiters: Int { lock.withLock { waiting.count } }

    /// The body of `bytes`: a large one waits for its turn, then is written in slices.
    func body(_ bytes: ByteBuffer) -> ResponseBody {
        guard bytes.readableBytes >= Self.threshold else { return ResponseBody(byteBuffer: bytes) }
        return ResponseBody(contentLength: bytes.readableBytes) { [self] writer in
            let hasTurn = await waitForTurn()
            defer { if hasTurn { endTurn() } }
            var rest = bytes
            while let part = rest.readSlice(length: min(Self.slice, rest.readableBytes)), part.readableBytes > 0 {
                try await writer.write(part)
            }
            try await writer.finish(nil)
        }
    }

    /// True once this caller has a turn; false when it waited `maxWait` and goes anyway.
    private func waitForTurn() async -> Bool {
        let id: UInt64? = lock.withLock {
            if free > 0 {
                free -= 1
                return nil
            }
            nextID += 1
            return nextID
        }
        guard let id else { return true }
        return await withCheckedContinuation { continuation in
            let timer = Task { [self, maxWait] in
                try? await Task.sleep(for: maxWait)
                lock.withLock { waiting.removeValue(forKey: id) }?.continuation.resume(returning: false)
            }
            lock.withLock {
                waiting[id] = (continuation, timer)
                order.append(id)
            }
        }
    }

    /// Hands the turn to the longest waiter still waiting, or frees it.
    private func endTurn() {
        let next = lock.withLock { () -> (continuation: CheckedContinuation<Bool, Never>, timer: Task<Void, Never>)? in
            while let id = order.popFirst() {
                if let waiter = waiting.removeValue(forKey: id) { return waiter }
            }
            free += 1
            return nil
        }
        next?.timer.cancel()
        next?.continuation.resume(returning: true)
    }
}
