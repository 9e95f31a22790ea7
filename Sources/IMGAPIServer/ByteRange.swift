/// A single `Range: bytes=...` request resolved against a file size.
enum ByteRange: Equatable {
    /// No usable range: send the whole file (also for multiple ranges, which RFC 9110 permits).
    case whole
    case partial(Range<Int64>)
    case unsatisfiable

    init(header: String?, size: Int64) {
        guard let header else { self = .whole; return }
        let value = header.trimmingSpaces()
        guard value.hasPrefix("bytes="), !value.contains(",") else { self = .whole; return }
        let spec = value.dropFirst(6).split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard spec.count == 2 else { self = .whole; return }
        let first = spec[0].trimmingCharacters(), last = spec[1].trimmingCharacters()
        if first.isEmpty {
            // Suffix range: the last N bytes.
            guard let n = Self.position(last) else { self = .whole; return }
            self = n == 0 || size == 0 ? .unsatisfiable : .partial(max(0, size - n)..<size)
            return
        }
        guard let start = Self.position(first) else { self = .whole; return }
        var end = size - 1
        if !last.isEmpty {
            guard let e = Self.position(last), e >= start else { self = .whole; return }
            end = min(e, size - 1)
        }
        self = start < size ? .partial(start..<(end + 1)) : .unsatisfiable
    }

    /// A byte position: digits only (no sign, as RFC 9110 says); nil when not one or past Int64.
    private static func position(_ text: String) -> Int64? {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        return Int64(text)
    }
}

extension String {
    /// Without leading and trailing spaces and tabs (HTTP's optional whitespace).
    func trimmingSpaces() -> String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}

private extension Substring {
    func trimmingCharacters() -> String { String(self).trimmingSpaces() }
}
