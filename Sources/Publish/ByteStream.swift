#if canImport(Glibc)
import Glibc
#endif
import Crypto
import Foundation
import IMGAPI
import NIOCore

/// What went through a stream: size, SHA-1 and SHA-256, computed as the bytes pass.
public final class StreamDigest: @unchecked Sendable {
    private let lock = NSLock()
    private var sha1 = Insecure.SHA1()
    private var sha256 = SHA256()
    private var count: Int64 = 0

    func update(_ bytes: ByteBuffer) {
        lock.withLock {
            bytes.withUnsafeReadableBytes {
                sha1.update(bufferPointer: $0)
                sha256.update(bufferPointer: $0)
            }
            count += Int64(bytes.readableBytes)
        }
    }

    public var size: Int64 { lock.withLock { count } }

    /// Hex digests of everything so far.
    public func finalize() -> (sha1: String, sha256: String) {
        lock.withLock {
            (Hex.encode(sha1.finalize()), Hex.encode(sha256.finalize()))
        }
    }
}

/// The bytes of a pipe or file as an async sequence of buffers. A thread of its own reads
/// and digests them ahead of the consumer (the HTTP upload), at most `readAhead` chunks,
/// so reading, hashing, compressing (in the producer processes) and sending overlap while
/// memory stays flat however large the stream. Producer processes are waited for at the
/// end: a stream whose producer failed ends in an error, never in a short success.
/// It can be iterated once.
public struct ByteStream: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    typealias Chunks = NIOThrowingAsyncSequenceProducer<
        ByteBuffer, any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, ReadAhead>

    static let chunkSize = 1 << 20
    static let readAhead = 4

    let chunks: Chunks
    let producers: [Process]
    public let digest = StreamDigest()
    let progress: (@Sendable (Int64) -> Void)?
    let readAhead: ReadAhead
    let motion = Motion()

    init(handle: FileHandle, producers: [Process], progress: (@Sendable (Int64) -> Void)?) {
        let readAhead = ReadAhead()
        self.readAhead = readAhead
        let made = Chunks.makeSequence(
            backPressureStrategy: .init(lowWatermark: 1, highWatermark: Self.readAhead), finishOnDeinit: false, delegate: readAhead)
        chunks = made.sequence
        self.producers = producers
        self.progress = progress
        let (source, digest) = (made.source, self.digest)
        let thread = Thread {
            Self.read(handle, into: source, digest: digest, producers: producers, pacedBy: readAhead)
        }
        thread.name = "imgpublish-read"
        thread.start()
    }

    /// A stream of the file at `path`.
    public static func file(_ path: String, progress: (@Sendable (Int64) -> Void)? = nil) throws -> ByteStream {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw PublishError(step: "file", "cannot read \(path)") }
        return ByteStream(handle: handle, producers: [], progress: progress)
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var chunks: Chunks.AsyncIterator
        let progress: (@Sendable (Int64) -> Void)?
        let motion: Motion
        var sent: Int64 = 0

        public mutating func next() async throws -> ByteBuffer? {
            guard let chunk = try await chunks.next() else {
                motion.ended()
                return nil
            }
            motion.moved()
            sent += Int64(chunk.readableBytes)
            progress?(sent)
            return chunk
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        motion.moved()
        return AsyncIterator(chunks: chunks.makeAsyncIterator(), progress: progress, motion: motion)
    }

    /// The side that stopped, when no chunk was taken for `limit` before the stream's end:
    /// the consumer if chunks were waiting for it, else the producer.
    public enum StalledSide: Sendable { case consumer, producer }

    public func stalled(for limit: Duration) -> StalledSide? {
        guard motion.stillFor(limit) else { return nil }
        return readAhead.isPaused ? .consumer : .producer
    }

    /// When a chunk was last taken, and whether the stream has ended.
    final class Motion: @unchecked Sendable {
        private let lock = NSLock()
        private var last = ContinuousClock.now
        private var over = false

        func moved() { lock.withLock { last = .now } }
        func ended() { lock.withLock { over = true } }
        func stillFor(_ limit: Duration) -> Bool { lock.withLock { !over && ContinuousClock.now - last >= limit } }
    }

    /// The reading thread: reads and digests while the consumer wants more, then waits for
    /// the producers and ends the stream (with an error if one failed).
    private static func read(_ handle: FileHandle, into source: Chunks.Source, digest: StreamDigest, producers: [Process],
                             pacedBy readAhead: ReadAhead) {
        defer { try? handle.close() }
        while readAhead.waitForDemand() {
            var chunk = ByteBufferAllocator().buffer(capacity: chunkSize)
            var failure: Int32 = 0
            chunk.writeWithUnsafeMutableBytes(minimumWritableBytes: chunkSize) { space in
                while true {
                    let n = Glibc.read(handle.fileDescriptor, space.baseAddress, space.count)
                    if n >= 0 { return n }
                    if errno != EINTR {
                        failure = errno
                        return 0
                    }
                }
            }
            if failure != 0 {
                return source.finish(PublishError(step: "stream", "read failed: \(String(cString: strerror(failure)))"))
            }
            guard chunk.readableBytes > 0 else {
                if let failed = producers.first(where: { $0.waitUntilExit(); return $0.terminationStatus != 0 }) {
                    let name = failed.arguments?.first ?? "producer"
                    return source.finish(PublishError(step: "send", "`\(name)` exited with status \(failed.terminationStatus)"))
                }
                return source.finish()
            }
            digest.update(chunk)
            let ticket = readAhead.ticket
            if case .stopProducing = source.yield(chunk) { readAhead.pause(unless: ticket) }
        }
    }

    /// Stops the producers (after a failed upload) and waits until they are gone, so the
    /// snapshot they read can be destroyed. SIGKILL, not SIGTERM: children started from
    /// Swift's thread pool inherit its blocked signals and would never see a SIGTERM.
    public func terminate() async {
        let producers = self.producers
        _ = try? await OwnThread.run("imgpublish-stop") {
            for process in producers where process.isRunning { kill(process.processIdentifier, SIGKILL) }
            for process in producers { process.waitUntilExit() }
        }
    }
}

/// Paces the reading thread: it reads while the consumer wants more and stops for good
/// when the consumer is gone.
final class ReadAhead: NIOAsyncSequenceProducerDelegate, @unchecked Sendable {
    private let condition = NSCondition()
    private var wanted = true
    private var gone = false
    /// Counts `produceMore` calls, so that one arriving while a pause is decided is not lost.
    private var demands = 0

    var ticket: Int { condition.withLock { demands } }
    /// Whether the queue is full and waits for the consumer.
    var isPaused: Bool { condition.withLock { !wanted && !gone } }

    func produceMore() {
        condition.withLock {
            demands += 1
            wanted = true
            condition.signal()
        }
    }

    func didTerminate() {
        condition.withLock {
            gone = true
            condition.signal()
        }
    }

    /// Stops reading until the next `produceMore`, unless one came since `ticket` was taken.
    func pause(unless ticket: Int) {
        condition.withLock { if demands == ticket { wanted = false } }
    }

    /// Blocks while the consumer wants nothing more; false once it is gone.
    func waitForDemand() -> Bool {
        condition.withLock {
            while !wanted && !gone { condition.wait() }
            return !gone
        }
    }
}

/// `zfs send` piped through the compressor, as one `ByteStream`.
public enum SendPipeline {
    public static func start(snapshot: String, incrementalFrom origin: String?, compression: ImageCompression,
                             progress: (@Sendable (Int64) -> Void)? = nil) throws -> ByteStream {
        let send = Process()
        send.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        send.arguments = ["zfs", "send"] + (origin.map { ["-i", $0] } ?? []) + [snapshot]
        send.standardError = FileHandle.standardError
        let sent = Pipe()
        send.standardOutput = sent
        guard let filter = compression.command else {
            try send.run()
            try? sent.fileHandleForWriting.close()
            return ByteStream(handle: sent.fileHandleForReading, producers: [send], progress: progress)
        }
        let compressor = Process()
        compressor.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        compressor.arguments = filter
        compressor.standardInput = sent
        compressor.standardError = FileHandle.standardError
        let compressed = Pipe()
        compressor.standardOutput = compressed
        try send.run()
        try compressor.run()
        // Our copies of the pipe ends the children use: without closing them, no EOF would come.
        try? sent.fileHandleForReading.close()
        try? sent.fileHandleForWriting.close()
        try? compressed.fileHandleForWriting.close()
        return ByteStream(handle: compressed.fileHandleForReading, producers: [send, compressor], progress: progress)
    }
}
