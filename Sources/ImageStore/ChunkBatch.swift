import NIOCore

/// Chunks of a byte stream gathered until they add up to `size` bytes, to be handed to
/// another task as one: one handover (and perhaps one thread wake-up) per batch rather than
/// one per network read, which is at most 64 KiB.
public struct ChunkBatch: Sendable {
    public static let size = 512 * 1024

    private var chunks: [ByteBuffer] = []
    private var bytes = 0

    public init() {}

    /// Adds `chunk`; returns the batch once it is full.
    public mutating func add(_ chunk: ByteBuffer) -> [ByteBuffer]? {
        chunks.append(chunk)
        bytes += chunk.readableBytes
        return bytes >= Self.size ? take() : nil
    }

    /// What is left at the end of the stream, if anything.
    public mutating func rest() -> [ByteBuffer]? {
        chunks.isEmpty ? nil : take()
    }

    private mutating func take() -> [ByteBuffer] {
        defer {
            chunks = []
            bytes = 0
        }
        return chunks
    }
}
