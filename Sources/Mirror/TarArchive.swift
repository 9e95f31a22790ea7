/// The tar format bundles are written in: POSIX ustar headers of 512 bytes, each entry's
/// data padded to 512 bytes, two zero blocks at the end. Sizes of 8 GiB and more, which
/// ustar's 11 octal digits cannot hold, are written in base 256 as GNU tar does (GNU tar
/// and bsdtar read both).
enum TarArchive {
    static let block = 512

    /// The header of a regular file `name` (at most 100 bytes) of `size` bytes.
    static func header(name: String, size: Int64, mtime: Int64) -> [UInt8] {
        var header = [UInt8](repeating: 0, count: block)
        func put(_ text: String, at offset: Int) {
            for (index, byte) in text.utf8.enumerated() { header[offset + index] = byte }
        }
        put(name, at: 0)
        put("0000644", at: 100)
        put("0000000", at: 108)
        put("0000000", at: 116)
        if size < 0o77777777777 {
            put(octal(size, digits: 11), at: 124)
        } else {
            header[124] = 0x80
            for index in 0..<8 { header[135 - index] = UInt8(truncatingIfNeeded: size >> (8 * index)) }
        }
        put(octal(mtime, digits: 11), at: 136)
        header[156] = UInt8(ascii: "0")
        put("ustar", at: 257)
        put("00", at: 263)
        put("        ", at: 148)
        let sum = header.reduce(0) { $0 + Int64($1) }
        put(octal(sum, digits: 6), at: 148)
        header[154] = 0
        header[155] = UInt8(ascii: " ")
        return header
    }

    /// Zero bytes that pad `size` bytes of data to a whole block.
    static func padding(after size: Int64) -> Int {
        Int((Int64(block) - size % Int64(block)) % Int64(block))
    }

    /// Two zero blocks: the end of the archive.
    static let end = [UInt8](repeating: 0, count: 2 * block)

    /// A header read back: nil for the zero block that ends the archive.
    struct Entry: Equatable {
        var name: String
        var size: Int64
        /// A regular file (type `0` or NUL); directories, links and extended headers are not.
        var isFile: Bool
    }

    struct Malformed: Error, CustomStringConvertible {
        let description: String
    }

    /// Reads a header; an entry of more than `maximumSize` bytes is refused.
    static func parse(header: [UInt8], maximumSize: Int64) throws -> Entry? {
        guard header.count == block else { throw Malformed(description: "it ends inside a tar header") }
        if header.allSatisfy({ $0 == 0 }) { return nil }
        let stored = try number(header[148..<156])
        let sum = header.enumerated().reduce(Int64(0)) { $0 + Int64((148..<156).contains($1.offset) ? 0x20 : $1.element) }
        guard stored == sum else { throw Malformed(description: "a tar header's checksum is wrong: it is not a tar file, or it is damaged") }
        var name = text(header[0..<100])
        if header[257..<262].elementsEqual("ustar".utf8), case let prefix = text(header[345..<500]), !prefix.isEmpty {
            name = prefix + "/" + name
        }
        let size: Int64
        if header[124] & 0x80 != 0 {
            // Base 256: no image file needs more than the last 8 of its 11 bytes.
            guard header[125..<128].allSatisfy({ $0 == 0 }) else { throw Malformed(description: "tar entry \(name) announces a size too large") }
            size = Int64(bitPattern: header[128..<136].reduce(UInt64(0)) { ($0 << 8) | UInt64($1) })
        } else {
            size = try number(header[124..<136])
        }
        guard size >= 0, size <= maximumSize else {
            throw Malformed(description: "tar entry \(name) announces \(size) bytes, more than any image file")
        }
        return Entry(name: name, size: size, isFile: header[156] == UInt8(ascii: "0") || header[156] == 0)
    }

    private static func octal(_ value: Int64, digits: Int) -> String {
        let text = String(value, radix: 8)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }

    private static func text(_ bytes: ArraySlice<UInt8>) -> String {
        String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }

    /// An octal field: digits, with leading spaces and a trailing NUL or space allowed.
    private static func number(_ field: ArraySlice<UInt8>) throws -> Int64 {
        var value: Int64 = 0
        var seen = false
        for byte in field {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "7"):
                let (shifted, overflow) = value.multipliedReportingOverflow(by: 8)
                guard !overflow else { throw Malformed(description: "a tar header holds a number too large") }
                value = shifted + Int64(byte - UInt8(ascii: "0"))
                seen = true
            case UInt8(ascii: " ") where !seen: continue
            case 0, UInt8(ascii: " "): return value
            default: throw Malformed(description: "a tar header holds a malformed number")
            }
        }
        return value
    }
}
