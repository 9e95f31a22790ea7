import XCTest
@testable import HTTPSignature
import IMGAPI

final class HTTPDateTests: XCTestCase {
    func testFormatsRFC1123InGMT() {
        XCTAssertEqual(RequestSigner.httpDate(Date(timeIntervalSince1970: 0)), "Thu, 01 Jan 1970 00:00:00 GMT")
        XCTAssertEqual(RequestSigner.httpDate(Date(timeIntervalSince1970: 784_111_777.9)), "Sun, 06 Nov 1994 08:49:37 GMT")
        XCTAssertEqual(RequestSigner.httpDate(Date(timeIntervalSince1970: 1_795_315_295)), Fixtures.recordedDate)
        XCTAssertEqual(RequestSigner.httpDate(Date(timeIntervalSince1970: 951_782_400)), "Tue, 29 Feb 2000 00:00:00 GMT")
        XCTAssertEqual(RequestSigner.httpDate(Date(timeIntervalSince1970: -1)), "Wed, 31 Dec 1969 23:59:59 GMT")
    }

    func testFormatMatchesFoundation() {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        for _ in 0..<500 {
            let date = Date(timeIntervalSince1970: TimeInterval(Int.random(in: 0...4_102_444_800)))
            XCTAssertEqual(RequestSigner.httpDate(date), formatter.string(from: date))
            XCTAssertEqual(HTTPDate.parse(formatter.string(from: date)), date)
        }
    }

    func testParsesAndRefuses() {
        XCTAssertEqual(HTTPDate.parse(Fixtures.recordedDate), Date(timeIntervalSince1970: 1_795_315_295))
        XCTAssertEqual(HTTPDate.parse("Sun, 6 Nov 1994 08:49:37 GMT"), Date(timeIntervalSince1970: 784_111_777))
        for bad in [
            "", "yesterday", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 06 Nov 1994 08:49:37 +0000", "Sun, 31 Feb 1994 08:49:37 GMT", "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 94 08:49:37 GMT", "Xyz, 06 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 8:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 GMT extra", "Sun, 06 Nov +994 08:49:37 GMT",
        ] {
            XCTAssertNil(HTTPDate.parse(bad), bad)
        }
    }
}
