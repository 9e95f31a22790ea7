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
            guard let n = Int64(last), n >= 0 else { self = .whole; return }
            self = n == 0 ? .unsatisfiable : .partial(max(0, size - n)..<size)
            return
        }
        guard let start = Int64(first), start >= 0 else { self = .whole; return }
        var end = size - 1
        if !last.isEmpty {
            guard let e = Int64(last), e >= start else { self = .whole; return }
            end = min(e, size - 1)
        }
        self = start < size ? .partial(start..<(end + 1)) : .unsatisfiable
    }
}

private extension Substring {
    func trimmingCharacters() -> String { String(self).trimmingSpaces() }
}
