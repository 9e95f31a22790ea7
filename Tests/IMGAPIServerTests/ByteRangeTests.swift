@testable import IMGAPIServer
import XCTest

/// Found by scripts/fuzz: a suffix range on an empty file gave an empty, backwards 206, and
/// signed numbers were read as positions.
final class ByteRangeTests: XCTestCase {
    func testRangesOutsideTheFileOrMalformedAreNeverPartial() {
        XCTAssertEqual(ByteRange(header: "bytes=-80", size: 0), .unsatisfiable)
        XCTAssertEqual(ByteRange(header: "bytes=-+80", size: 100), .whole)
        XCTAssertEqual(ByteRange(header: "bytes=+1-5", size: 100), .whole)
        XCTAssertEqual(ByteRange(header: "bytes=0-99999999999999999999", size: 100), .whole)
        XCTAssertEqual(ByteRange(header: "bytes=-80", size: 100), .partial(20..<100))
        XCTAssertEqual(ByteRange(header: "bytes=10-", size: 100), .partial(10..<100))
        XCTAssertEqual(ByteRange(header: "bytes=100-", size: 100), .unsatisfiable)
    }
}
