import Crypto
import Foundation
import IMGAPI
import NIOCore
import NIOPosix

/// What went through a stream: size, SHA-1 and SHA-256, computed as the bytes pass.
public final class StreamDigest: @unchecked Sendable {
    private let lock = NSLock()
    private var sha1 = Insecure.SHA1()
    private var sha256 = SHA256()
    private var count: Int64 = 0

    func update(_ bytes: [UInt8]) {
        lock.withLock {
            sha1.update(data: bytes)
            sha256.update(data: bytes)
            count += Int64(bytes.count)
        }
    }

    public var size: Int64 { lock.withLock { count } }

    /// Hex digests of everything so far.
    public func finalize() -> (sha1: String, sha256: String) {
        lock.withLock {
            (sha1.finalize().map { String(format: "%02x", $0) }.joined(),
             sha256.finalize().map { String(format: "%02x", $0) }.joined())
        }
    }
}

/// The bytes of a pipe or file as an async sequence of buffers: each read runs on NIO's
/// blocking-I/O pool and happens only when the consumer (the HTTP upload) asks for more,
/// so memory stays flat however large the stream. Producer processes are waited for at
/// the end: a stream whose producer failed ends in an error, never in a short success.
public struct ByteStream: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    let handle: FileHandle
    let producers: [Process]
    public let digest = StreamDigest()
    let progress: (@Sendable (Int64) -> Void)?

    init(handle: FileHandle, producers: [Process], progress: (@Sendable (Int64) -> Void)?) {
        self.handle = handle
        self.producers = producers
        self.progress = progress
    }

    /// A stream of the file at `path`.
    public static func file(_ path: String, progress: (@Sendable (Int64) -> Void)? = nil) throws -> ByteStream {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw PublishError(step: "file", "cannot read \(path)") }
        return ByteStream(handle: handle, producers: [], progress: progress)
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let stream: ByteStream

        public mutating func next() async throws -> ByteBuffer? {
            let handle = stream.handle
            let chunk = try await NIOThreadPool.singleton.runIfActive { () throws -> [UInt8] in
                var buffer = [UInt8](repeating: 0, count: 1 << 20)
                let n = buffer.withUnsafeMutableBytes { read(handle.fileDescriptor, $0.baseAddress, $0.count) }
                guard n >= 0 else { throw PublishError(step: "stream", "read failed: \(String(cString: strerror(errno)))") }
                return Array(buffer.prefix(n))
            }
            guard !chunk.isEmpty else {
                try await stream.waitForProducers()
                return nil
            }
            stream.digest.update(chunk)
            stream.progress?(stream.digest.size)
            return ByteBuffer(bytes: chunk)
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(stream: self) }

    func waitForProducers() async throws {
        let producers = self.producers
        try await NIOThreadPool.singleton.runIfActive {
            for process in producers {
                process.waitUntilExit()
                guard process.terminationStatus == 0 else {
                    let name = process.arguments?.first ?? "producer"
                    throw PublishError(step: "send", "`\(name)` exited with status \(process.terminationStatus)")
                }
            }
        }
    }

    /// Stops the producers (after a failed upload) and waits until they are gone, so the
    /// snapshot they read can be destroyed. SIGKILL, not SIGTERM: children started from
    /// Swift's thread pool inherit its blocked signals and would never see a SIGTERM.
    public func terminate() async {
        let producers = self.producers
        try? await NIOThreadPool.singleton.runIfActive {
            for process in producers where process.isRunning { kill(process.processIdentifier, SIGKILL) }
            for process in producers { process.waitUntilExit() }
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
