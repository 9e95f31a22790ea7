import Crypto
import IMGAPI
import NIOCore

/// The SHA-256 of a stored file as it is read back, checked against the digest it was stored
/// under: bytes that changed on disk are caught before they are delivered whole.
public struct BlobVerifier {
    private var sha256 = SHA256()
    private let expected: String

    public init(sha256 expected: String) {
        self.expected = expected
    }

    public mutating func update(_ buffer: ByteBuffer) {
        buffer.withUnsafeReadableBytes { sha256.update(bufferPointer: $0) }
    }

    /// Whether the bytes given so far are the stored file.
    public func matches() -> Bool {
        Hex.encode(sha256.finalize()) == expected
    }
}
