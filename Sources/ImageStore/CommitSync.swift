#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Synchronization

/// Group commit for the embedded catalog. SQLite commits without syncing (WAL with
/// `synchronous = NORMAL`), so the single writer never waits for the disk; a write is
/// acknowledged only once a sync of the WAL file that began after its commit has finished.
/// One `fdatasync` thus makes durable every commit written before it began, however many
/// writers are waiting, and the writer goes on committing meanwhile.
final class CommitSync: Sendable {
    /// The WAL file whose syncs make commits durable.
    let path: String

    private struct State {
        /// Writes committed (numbered from 1 by `noteCommit`).
        var committed: UInt64 = 0
        /// Every write up to this number is on disk.
        var durable: UInt64 = 0
        var syncing = false
        var syncs = 0
        var waiters: [(through: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
    }

    private let state = Mutex(State())
    private let queue = DispatchQueue(label: "imgapid.commit-sync")

    init(walPath: String) {
        path = walPath
    }

    /// Numbers a write that committed something; call on the writer, after its commits.
    func noteCommit() -> UInt64 {
        state.withLock { state in
            state.committed += 1
            return state.committed
        }
    }

    /// Returns once write `number` is on disk: at once if a sync that began after it has
    /// finished, else after the next one, which also covers every write numbered before it starts.
    func waitUntilDurable(_ number: UInt64) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let start = state.withLock { state -> Bool in
                guard state.durable < number else {
                    continuation.resume()
                    return false
                }
                state.waiters.append((number, continuation))
                guard !state.syncing else { return false }
                state.syncing = true
                return true
            }
            if start { queue.async { self.syncWhileWaited() } }
        }
    }

    /// Syncs the WAL now, on the calling thread: on the writer, before an effect that cannot
    /// be undone (a file removed) follows from a commit not yet on disk.
    func syncNow() throws {
        let through = state.withLock { $0.committed }
        try syncFile()
        markDurable(through: through, failure: nil)
    }

    /// How many syncs were made, and through which write (for tests).
    var progress: (syncs: Int, committed: UInt64, durable: UInt64) {
        state.withLock { ($0.syncs, $0.committed, $0.durable) }
    }

    /// Syncs until no writer waits, each sync covering every write committed before it began.
    private func syncWhileWaited() {
        while true {
            let through = state.withLock { $0.committed }
            var failure: (any Error)?
            do { try syncFile() } catch { failure = error }
            let more = markDurable(through: through, failure: failure)
            if !more { return }
        }
    }

    /// Records a sync through `through`, or its failure, and resumes the waiters it was
    /// for (with the failure, if any); whether others still wait (the sync loop goes on).
    @discardableResult
    private func markDurable(through: UInt64, failure: (any Error)?) -> Bool {
        let (resumed, more) = state.withLock { state -> ([CheckedContinuation<Void, any Error>], Bool) in
            state.syncs += 1
            if failure == nil { state.durable = max(state.durable, through) }
            let settled = failure == nil ? state.durable : through
            let resumed = state.waiters.filter { $0.through <= settled }.map(\.continuation)
            state.waiters.removeAll { $0.through <= settled }
            if state.waiters.isEmpty { state.syncing = false }
            return (resumed, !state.waiters.isEmpty)
        }
        for continuation in resumed {
            if let failure { continuation.resume(throwing: failure) } else { continuation.resume() }
        }
        return more
    }

    /// `fdatasync` of the WAL file, opened anew so that it is the file SQLite writes now.
    /// A missing WAL means SQLite checkpointed it into the database (synced) and removed it.
    private func syncFile() throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return }
            throw CatalogSyncFailed(reason: POSIXErrorText.current("open").description)
        }
        defer { close(fd) }
        guard fdatasync(fd) == 0 else {
            throw CatalogSyncFailed(reason: POSIXErrorText.current("fdatasync").description)
        }
    }
}

/// A catalog write that was made but could not be synced to disk.
public struct CatalogSyncFailed: Error, CustomStringConvertible {
    public let reason: String
    public var description: String {
        "the catalog's write-ahead log could not be synced to disk (\(reason)): the change was made but may not survive a power loss; check the disk and the kernel log, then repeat the request"
    }
}
