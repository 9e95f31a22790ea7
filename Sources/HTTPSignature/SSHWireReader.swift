import Foundation

/// Bounds-checked reader for the SSH wire encoding (RFC 4251 §5): every read throws instead of trapping.
struct SSHWireReader {
    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// True when every byte has been consumed.
    var isAtEnd: Bool { offset == bytes.count }

    /// Reads a big-endian `uint32`.
    mutating func readUInt32() throws -> UInt32 {
        guard bytes.count - offset >= 4 else { throw SSHKeyError.truncated }
        var value: UInt32 = 0
        for byte in bytes[offset..<offset + 4] {
            value = value << 8 | UInt32(byte)
        }
        offset += 4
        return value
    }

    /// Reads a length-prefixed byte string; a length beyond the data throws.
    mutating func readBytes() throws -> [UInt8] {
        let length = Int(try readUInt32())
        guard length <= bytes.count - offset else { throw SSHKeyError.truncated }
        defer { offset += length }
        return Array(bytes[offset..<offset + length])
    }

    /// Reads a length-prefixed UTF-8 string.
    mutating func readString() throws -> String {
        guard let string = String(bytes: try readBytes(), encoding: .utf8) else {
            throw SSHKeyError.malformed("string is not UTF-8")
        }
        return string
    }

    /// Reads a non-negative `mpint` and returns its magnitude without leading zero bytes.
    mutating func readPositiveMPInt() throws -> [UInt8] {
        let raw = try readBytes()
        if let first = raw.first, first & 0x80 != 0 {
            throw SSHKeyError.malformed("negative integer")
        }
        return Array(raw.drop(while: { $0 == 0 }))
    }
}
