import IMGAPI

/// The pairs of a URL query string, in order, percent-decoded (`+` is a space).
/// Repeated keys stay repeated (`billing_tag=a&billing_tag=b`).
enum QueryString {
    /// A decoded NUL (`%00`) is refused: SQLite would cut the value there and match something else.
    static func pairs(_ query: String?) throws(IMGAPIError) -> [(String, String)] {
        guard let query, !query.isEmpty else { return [] }
        return try query.split(separator: "&").map { part throws(IMGAPIError) in
            let kv = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let pair = (decode(kv[0]), kv.count > 1 ? decode(kv[1]) : "")
            guard !pair.0.utf8.contains(0), !pair.1.utf8.contains(0) else {
                throw IMGAPIError.invalidParameter(
                    field: pair.0, message: "invalid \"\(pair.0)\": query parameters must not contain a NUL character (%00)")
            }
            return pair
        }
    }

    /// Malformed escapes are kept as they are rather than refused, as Node's querystring does.
    static func decode(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var it = Array(text.utf8)[...]
        while let b = it.popFirst() {
            if b == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else if b == UInt8(ascii: "%"), it.count >= 2, let hi = hex(it[it.startIndex]), let lo = hex(it[it.startIndex + 1]) {
                bytes.append(hi << 4 | lo)
                it = it.dropFirst(2)
            } else {
                bytes.append(b)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hex(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return b - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

extension Array where Element == (String, String) {
    /// The last value given for `key` (a repeated scalar parameter: the last one wins).
    func value(_ key: String) -> String? {
        last { $0.0 == key }?.1
    }
}
