import IMGAPI
import Synchronization

/// Ids for requests whose client sent none (`x-request-id`): version 4 UUIDs like the
/// reference's, made without a system call each. Each is SplitMix64 of a counter that
/// starts at a random place, so no two of one process are alike.
enum RequestID {
    private static let counter = Atomic<UInt64>(UInt64.random(in: .min ... .max))

    static func next() -> String {
        let n = counter.wrappingAdd(2, ordering: .relaxed).oldValue
        return ImageUUID.version4(mix(n), mix(n &+ 1))
    }

    /// SplitMix64's output function: a bijection, so distinct counters give distinct bits.
    private static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
