import Crypto
import Foundation
import IMGAPI

/// An image's icon: a small picture kept in the catalog itself (at most 128 KiB).
public struct ImageIcon: Sendable, Equatable {
    public static let maximumSize = 128 * 1024
    public static let contentTypes = ["image/png", "image/jpeg", "image/gif"]

    public var contentType: String
    public var bytes: [UInt8]
    public var sha1: String
    /// Base64, as sent in `Content-MD5`.
    public var contentMD5: String
    /// Epoch milliseconds: the download's `Last-Modified`.
    public var mtime: Int64

    public init(contentType: String, bytes: [UInt8], mtime: Int64 = Int64(Date().timeIntervalSince1970 * 1000)) {
        self.contentType = contentType
        self.bytes = bytes
        sha1 = Hex.encode(Insecure.SHA1.hash(data: bytes))
        contentMD5 = Data(Insecure.MD5.hash(data: bytes)).base64EncodedString()
        self.mtime = mtime
    }
}
