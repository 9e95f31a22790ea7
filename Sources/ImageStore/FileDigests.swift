import Crypto
import Foundation
import IMGAPI
import NIOCore

/// SHA-1, SHA-256 and MD5 of a byte stream, computed in one pass.
public struct FileDigests {
    private var sha1 = Insecure.SHA1()
    private var sha256 = SHA256()
    private var md5 = Insecure.MD5()
    public private(set) var size: Int64 = 0

    public init() {}

    public mutating func update(_ buffer: ByteBuffer) {
        buffer.withUnsafeReadableBytes { bytes in
            sha1.update(bufferPointer: bytes)
            sha256.update(bufferPointer: bytes)
            md5.update(bufferPointer: bytes)
        }
        size += Int64(buffer.readableBytes)
    }

    public func finalize() -> Result {
        Result(size: size, sha1: Hex.encode(sha1.finalize()), sha256: Hex.encode(sha256.finalize()),
               contentMD5: Data(md5.finalize()).base64EncodedString())
    }

    public struct Result: Sendable, Equatable {
        public var size: Int64
        public var sha1: String
        public var sha256: String
        /// Base64, the `Content-MD5` header form.
        public var contentMD5: String
    }
}
