/// IMGAPI timestamps: ISO 8601 in UTC, `published_at` style, as milliseconds since the epoch.
public enum Timestamp {
    /// Parses `YYYY-MM-DD`, optionally followed by `THH:MM[:SS[.fraction]]` and `Z` or `±HH:MM`
    /// (the forms JavaScript's `Date` reads reliably). Returns nil for anything else.
    public static func milliseconds(fromISO8601 text: String) -> Int64? {
        var scanner = DigitScanner(Array(text.utf8))
        guard let year = scanner.number(digits: 4), scanner.take("-"),
              let month = scanner.number(digits: 2), scanner.take("-"),
              let day = scanner.number(digits: 2),
              (1...12).contains(month), (1...CivilDate.daysIn(month: month, year: year)).contains(day) else { return nil }
        var hour = 0, minute = 0, second = 0, millis = 0, offsetMinutes = 0
        if scanner.take("T") || scanner.take(" ") {
            guard let h = scanner.number(digits: 2), scanner.take(":"), let m = scanner.number(digits: 2),
                  h < 24, m < 60 else { return nil }
            hour = h; minute = m
            if scanner.take(":") {
                guard let s = scanner.number(digits: 2), s < 60 else { return nil }
                second = s
                if scanner.take(".") {
                    var digits = 0, fraction = 0
                    while let d = scanner.digit() {
                        if digits < 3 { fraction = fraction * 10 + d }
                        digits += 1
                    }
                    guard digits > 0 else { return nil }
                    for _ in digits..<max(digits, 3) { fraction *= 10 }
                    millis = fraction
                }
            }
            if scanner.take("Z") {
            } else if let sign = scanner.sign() {
                let oh = scanner.number(digits: 2)
                _ = scanner.take(":")  // both +HH:MM and +HHMM
                guard let oh, let om = scanner.number(digits: 2), oh < 24, om < 60 else { return nil }
                offsetMinutes = sign * (oh * 60 + om)
            } else if !scanner.atEnd {
                return nil
            }
        }
        guard scanner.atEnd else { return nil }
        let days = CivilDate.daysSinceEpoch(year: year, month: month, day: day)
        let seconds = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offsetMinutes * 60)
        return seconds * 1000 + Int64(millis)
    }

    /// `2026-11-22T02:41:36.792Z`, what `new Date().toISOString()` gives.
    public static func iso8601(milliseconds: Int64) -> String {
        let millis = Int(((milliseconds % 1000) + 1000) % 1000)
        let totalSeconds = (milliseconds - Int64(millis)) / 1000
        var days = Int(totalSeconds / 86_400)
        var secondsOfDay = Int(totalSeconds % 86_400)
        if secondsOfDay < 0 { secondsOfDay += 86_400; days -= 1 }
        let (y, m, d) = CivilDate.date(daysSinceEpoch: days)
        return y.zeroPadded(4) + "-" + m.zeroPadded(2) + "-" + d.zeroPadded(2) + "T" + (secondsOfDay / 3600).zeroPadded(2) + ":"
            + (secondsOfDay / 60 % 60).zeroPadded(2) + ":" + (secondsOfDay % 60).zeroPadded(2) + "." + millis.zeroPadded(3) + "Z"
    }

    /// The strict `published_at` form the manifest validator accepts: seconds, optional 3-digit milliseconds, `Z`.
    public static func isPublishedAt(_ text: String) -> Bool {
        let b = Array(text.utf8)
        guard b.count == 20 || b.count == 24 else { return false }
        let pattern = b.count == 20 ? "dddd-dd-ddTdd:dd:ddZ" : "dddd-dd-ddTdd:dd:dd.dddZ"
        for (c, p) in zip(b, pattern.utf8) {
            if p == UInt8(ascii: "d") {
                guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return false }
            } else if c != p {
                return false
            }
        }
        return true
    }

}

private struct DigitScanner {
    let bytes: [UInt8]
    var index = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { index == bytes.count }

    mutating func digit() -> Int? {
        guard index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") else { return nil }
        defer { index += 1 }
        return Int(bytes[index] - UInt8(ascii: "0"))
    }

    mutating func number(digits: Int) -> Int? {
        var value = 0
        for _ in 0..<digits {
            guard let d = digit() else { return nil }
            value = value * 10 + d
        }
        return value
    }

    mutating func take(_ c: Unicode.Scalar) -> Bool {
        guard index < bytes.count, bytes[index] == UInt8(c.value) else { return false }
        index += 1
        return true
    }

    mutating func sign() -> Int? {
        if take("+") { return 1 }
        if take("-") { return -1 }
        return nil
    }
}
