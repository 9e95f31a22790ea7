import IMGAPI

/// IMF-fixdate (`Sun, 22 Nov 2026 02:41:37 GMT`), for `Date`, `Last-Modified` and `If-Modified-Since`.
enum HTTPDate {
    private static let weekdays = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    static func format(milliseconds: Int64) -> String {
        let seconds = milliseconds >= 0 ? milliseconds / 1000 : (milliseconds - 999) / 1000
        let iso = Array(Timestamp.iso8601(milliseconds: seconds * 1000))  // YYYY-MM-DDTHH:MM:SS.000Z
        let days = Int(seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400)
        let weekday = weekdays[((days % 7) + 7) % 7]
        let month = months[Int(String(iso[5...6]))! - 1]
        return "\(weekday), \(String(iso[8...9])) \(month) \(String(iso[0...3])) \(String(iso[11...18])) GMT"
    }

    static func parse(_ text: String) -> Int64? {
        let parts = text.split(separator: " ")
        guard parts.count == 6, parts[5] == "GMT", parts[1].count == 2, parts[3].count == 4, parts[4].count == 8,
              let month = months.firstIndex(of: String(parts[2])) else { return nil }
        let mm = month + 1 < 10 ? "0\(month + 1)" : "\(month + 1)"
        return Timestamp.milliseconds(fromISO8601: "\(parts[3])-\(mm)-\(parts[1])T\(parts[4])Z")
    }
}
