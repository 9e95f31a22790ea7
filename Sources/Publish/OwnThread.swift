import Foundation

/// Blocking work (reading a pipe to its end, hashing a file, waiting for a process) on a
/// thread of its own, so that it never holds one of Swift concurrency's few threads.
enum OwnThread {
    static func run<T: Sendable>(_ name: String, _ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { continuation.resume(with: Result { try work() }) }
            thread.name = name
            thread.start()
        }
    }
}
