/// Builder for the SSH wire encoding (RFC 4251 §5).
struct SSHWireWriter {
    /// The encoded bytes so far.
    private(set) var bytes: [UInt8] = []

    /// Appends a big-endian `uint32`.
    mutating func writeUInt32(_ value: UInt32) {
        bytes += [UInt8(value >> 24 & 0xff), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
    }

    /// Appends a length-prefixed byte string.
    mutating func writeBytes(_ value: some Collection<UInt8>) {
        writeUInt32(UInt32(value.count))
        bytes += value
    }

    /// Appends a length-prefixed UTF-8 string.
    mutating func writeString(_ value: String) {
        writeBytes(Array(value.utf8))
    }

    /// Appends a non-negative `mpint` given as big-endian magnitude bytes.
    mutating func writePositiveMPInt(_ magnitude: some Collection<UInt8>) {
        let trimmed = Array(magnitude.drop(while: { $0 == 0 }))
        if let first = trimmed.first, first & 0x80 != 0 {
            writeBytes([0] + trimmed)
        } else {
            writeBytes(trimmed)
        }
    }
}
