import Foundation
import IMGAPI
import XCTest

final class TimestampTests: XCTestCase {
    /// The same text as Foundation's ISO 8601 formatter (JavaScript's `toISOString`), across
    /// leap days, the epoch, times before it and the last millisecond of a day.
    func testISO8601MatchesFoundation() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        var samples: [Int64] = [0, -1, 1, 999, -86_400_000, 951_782_400_000, 1_709_251_199_999, 1_764_900_000_123,
                                253_402_300_799_999]
        var value: Int64 = -2_000_000_000_000
        while value < 4_000_000_000_000 {
            samples.append(value)
            value += 7_777_777_777
        }
        for milliseconds in samples {
            let expected = formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
            XCTAssertEqual(Timestamp.iso8601(milliseconds: milliseconds), expected, "\(milliseconds)")
            XCTAssertEqual(Timestamp.milliseconds(fromISO8601: Timestamp.iso8601(milliseconds: milliseconds)), milliseconds)
        }
        // Before 1582 Foundation counts Julian days; JavaScript, like this, Gregorian ones.
        XCTAssertEqual(Timestamp.iso8601(milliseconds: -62_135_596_800_000), "0001-01-01T00:00:00.000Z")
    }
}
