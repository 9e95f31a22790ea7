import Crypto
import Foundation
import Synchronization

/// The signatures accepted within the clock-skew window, so that a write cannot reuse one
/// captured from any earlier request (a signature over the `Date` header alone says nothing
/// of what it authorises). Each is kept as a 16-byte digest of keyId and signature until
/// its date can no longer pass the skew check; at most `capacity` are kept, the oldest
/// forgotten first.
final class SignatureReplays: Sendable {
    private struct Entry: Hashable, Sendable {
        let high: UInt64
        let low: UInt64
    }

    private struct State {
        var seen: [Entry: ContinuousClock.Instant] = [:]
        /// Entries in the order they came, which is the order they expire.
        var order: [(entry: Entry, expires: ContinuousClock.Instant)] = []
        var head = 0
    }

    let capacity: Int
    /// How long an entry is kept: twice the clock skew, as a date may be that far ahead.
    let lifetime: Duration
    private let state = Mutex(State())

    init(clockSkew: TimeInterval, capacity: Int = 200_000) {
        self.capacity = capacity
        lifetime = .seconds(2 * clockSkew)
    }

    /// Records a signature; returns false when it was seen before within its lifetime.
    func firstUse(keyId: String, signature: [UInt8]) -> Bool {
        var hasher = SHA256()
        hasher.update(data: Array(keyId.utf8))
        hasher.update(data: [0])
        hasher.update(data: signature)
        let digest = Array(hasher.finalize())
        let entry = Entry(high: digest[0..<8].reduce(0) { $0 << 8 | UInt64($1) }, low: digest[8..<16].reduce(0) { $0 << 8 | UInt64($1) })
        let now = ContinuousClock.now
        return state.withLock { state in
            Self.forget(&state, expiredBy: now, keeping: capacity - 1)
            if let expires = state.seen[entry], expires > now { return false }
            let expires = now + lifetime
            state.seen[entry] = expires
            state.order.append((entry, expires))
            return true
        }
    }

    /// Drops expired entries, then the oldest until at most `keeping` are left.
    private static func forget(_ state: inout State, expiredBy now: ContinuousClock.Instant, keeping: Int) {
        while state.head < state.order.count, state.order[state.head].expires <= now || state.seen.count > keeping {
            let oldest = state.order[state.head]
            if state.seen[oldest.entry] == oldest.expires { state.seen[oldest.entry] = nil }
            state.head += 1
        }
        if state.head > 1024, state.head * 2 > state.order.count {
            state.order.removeFirst(state.head)
            state.head = 0
        }
    }
}
