import Foundation

/// RFC 1123 dates as HTTP uses them (IMF-fixdate): `Sun, 06 Nov 1994 08:49:37 GMT`, for
/// `Date`, `Last-Modified`, `If-Modified-Since` and signed requests.
public enum HTTPDate {
    private static let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// Formats `date` (whole seconds, GMT).
    public static func format(_ date: Date) -> String {
        let seconds = Int(exactly: date.timeIntervalSince1970.rounded(.down)) ?? 0
        let days = seconds.floorDivided(by: 86_400)
        let secondOfDay = seconds - days * 86_400
        let (year, month, day) = CivilDate.date(daysSinceEpoch: days)
        let weekday = weekdays[(days % 7 + 7 + 4) % 7]  // 1970-01-01 was a Thursday
        let clock = [secondOfDay / 3600, secondOfDay / 60 % 60, secondOfDay % 60].map { $0.zeroPadded(2) }
        return "\(weekday), \(day.zeroPadded(2)) \(months[month - 1]) \(year.zeroPadded(4)) \(clock.joined(separator: ":")) GMT"
    }

    /// Formats a time in milliseconds since 1970 (rounded down to the second).
    public static func format(milliseconds: Int64) -> String {
        format(Date(timeIntervalSince1970: Double(milliseconds.floorDivided(by: 1000))))
    }

    /// Parses a date into milliseconds since 1970.
    public static func milliseconds(_ text: String) -> Int64? {
        parse(text).map { Int64($0.timeIntervalSince1970) * 1000 }
    }

    /// Parses `Www, DD Mon YYYY HH:MM:SS GMT` strictly (the weekday name is checked for form, not agreement).
    public static func parse(_ text: String) -> Date? {
        let fields = text.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count == 6, fields[0].count == 4, fields[0].hasSuffix(","),
              weekdays.contains(String(fields[0].dropLast())), fields[5] == "GMT",
              let day = number(fields[1], digits: 1...2), (1...31).contains(day),
              let monthIndex = months.firstIndex(of: String(fields[2])),
              let year = number(fields[3], digits: 4...4)
        else { return nil }
        let time = fields[4].split(separator: ":", omittingEmptySubsequences: false)
        guard time.count == 3,
              let hour = number(time[0], digits: 2...2), hour < 24,
              let minute = number(time[1], digits: 2...2), minute < 60,
              let second = number(time[2], digits: 2...2), second < 61
        else { return nil }
        let month = monthIndex + 1
        guard day <= CivilDate.daysIn(month: month, year: year) else { return nil }
        let days = CivilDate.daysSinceEpoch(year: year, month: month, day: day)
        return Date(timeIntervalSince1970: TimeInterval(days * 86_400 + hour * 3600 + minute * 60 + second))
    }

    private static func number(_ text: Substring, digits: ClosedRange<Int>) -> Int? {
        guard digits.contains(text.count), text.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(text)
    }
}
