import IMGAPI
import NIOCore
import NIOFileSystem
import Synchronization

/// A file being downloaded into the store that readers follow as it grows (a pull-through
/// fill): each reader reads what is on disk, waits for more, and at the end learns whether
/// the whole file was verified. Readers share one open handle, taken before the download
/// starts, so the file may be renamed or removed under them.
public final class GrowingFile: Sendable {
    /// Bytes the file will have.
    public let size: Int64
    private let handle: ReadFileHandle

    fileprivate struct State {
        var written: Int64 = 0
        /// Whether the download has begun: the upstream answered with the file.
        var started = false
        /// nil while the download runs.
        var outcome: Result<Void, any Error>?
        var readers = 0
        var closed = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state = Mutex(State())

    /// Opens `path` (which must exist) for the readers to come.
    public init(path: String, size: Int64) async throws {
        self.size = size
        handle = try await FileSystem.shared.openFile(forReadingAt: FilePath(path))
    }

    /// `bytes` of the file are on disk. After a restart from byte 0, fewer than before.
    public func advance(to bytes: Int64) {
        resume { state in
            state.written = bytes
            state.started = true
        }
    }

    /// The download ended: verified and stored, or failed. Readers waiting are woken; the
    /// handle closes when the last reader is done.
    public func finish(_ outcome: Result<Void, any Error>) {
        resume { $0.outcome = outcome }
        closeIfUnused()
    }

    private func resume(_ change: (inout State) -> Void) {
        let waiters = state.withLock { state in
            change(&state)
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// A reader following the file, from `join` until it is released.
    public final class Reader: Sendable {
        let file: GrowingFile

        fileprivate init(_ file: GrowingFile) {
            self.file = file
        }

        deinit { file.leave() }

        /// Waits until the download has begun, so that a response promises no bytes that
        /// will not come; throws the failure of a download that ended before it began.
        public func started() async throws {
            try await file.wait { $0.started || $0.outcome != nil }.outcome?.get()
        }

        /// Sends bytes `range` of the file to `write` as they land, then waits for the
        /// download's outcome and throws its failure: a client never takes a file that failed
        /// verification for a whole one.
        public func read(_ range: Range<Int64>, into write: (ByteBuffer) async throws -> Void) async throws {
            try await file.read(range, into: write)
        }
    }

    /// A reader of the file; nil when the download has ended (its outcome tells where the bytes are).
    public func join() -> Reader? {
        let joined = state.withLock { state in
            guard state.outcome == nil else { return false }
            state.readers += 1
            return true
        }
        return joined ? Reader(self) : nil
    }

    private func leave() {
        state.withLock { $0.readers -= 1 }
        closeIfUnused()
    }

    private func read(_ range: Range<Int64>, into write: (ByteBuffer) async throws -> Void) async throws {
        var offset = range.lowerBound
        while true {
            let (written, outcome) = await wait { [offset] in
                (offset < range.upperBound && $0.written > offset) || $0.outcome != nil
            }
            if offset < range.upperBound, written > offset {
                let end = min(written, range.upperBound)
                var sent = offset
                for try await chunk in FileSlices(handle, in: offset..<end, length: .kibibytes(256)) {
                    sent += Int64(chunk.readableBytes)
                    // The last bytes wait for the verdict: a file that fails verification
                    // never makes a complete transfer, and the client sees a failed download.
                    if sent == range.upperBound { try await wait { $0.outcome != nil }.outcome?.get() }
                    try await write(chunk)
                }
                offset = end
                continue
            }
            guard let outcome else { continue }
            try outcome.get()
            // Verified whole: every byte of the range was there to read.
            guard offset >= range.upperBound else {
                throw IMGAPIError.internalError("the downloaded file ended at byte \(written) of \(size)")
            }
            return
        }
    }

    /// The outcome of the download, once it has one (for a caller that reads nothing).
    public func outcome() async throws {
        try await wait { $0.outcome != nil }.outcome?.get()
    }

    /// Waits until `ready` holds, then returns what was written and the outcome.
    fileprivate func wait(until ready: (State) -> Bool) async -> (written: Int64, outcome: Result<Void, any Error>?) {
        while true {
            if let now = state.withLock({ ready($0) ? ($0.written, $0.outcome) : nil }) { return now }
            await withCheckedContinuation { continuation in
                let readyNow = state.withLock { state in
                    if ready(state) { return true }
                    state.waiters.append(continuation)
                    return false
                }
                if readyNow { continuation.resume() }
            }
        }
    }

    private func closeIfUnused() {
        let close = state.withLock { state in
            guard state.outcome != nil, state.readers == 0, !state.closed else { return false }
            state.closed = true
            return true
        }
        guard close else { return }
        let handle = self.handle
        Task { try? await handle.close() }
    }
}
