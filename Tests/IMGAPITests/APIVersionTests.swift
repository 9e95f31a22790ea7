import XCTest
@testable import IMGAPI

final class APIVersionTests: XCTestCase {
    func testAbsentMeansVersionOne() throws {
        XCTAssertEqual(try APIVersion.negotiate(nil), .v1)
        XCTAssertEqual(try APIVersion.negotiate("  "), .v1)
    }

    func testRangesReachingTwoGetVersionTwo() throws {
        for range in ["~2", "*", "2.x", "2", ">=1", "^2.0.0", "2.0.0", "=2.0.0", ">1.0.0", "1 - 2", "~1 || ~2", ">=1.0.0 <3",
                      "x", "v2.0.0", "~>2", ">1"] {
            XCTAssertEqual(try APIVersion.negotiate(range), .v2, range)
        }
    }

    func testRangesBelowTwoGetVersionOne() throws {
        for range in ["~1", "1.x", "1", "^1", "1.0.0", "<2", "<=1.9", ">=1 <2", "1.0.0 - 1.5", "~1.0", "<=1.0.0"] {
            XCTAssertEqual(try APIVersion.negotiate(range), .v1, range)
        }
    }

    func testUnsatisfiableOrMalformedRangesAreInvalidVersion() {
        for range in ["~99", "3", ">2.0.0", "<1", "~2.1", "banana", "1.2.3.4", "~", ">=", "1.-1", "2 - ", "||"] {
            XCTAssertThrowsError(try APIVersion.negotiate(range), range) { error in
                XCTAssertEqual((error as? IMGAPIError)?.code, "InvalidVersion", range)
                XCTAssertEqual((error as? IMGAPIError)?.status, 400, range)
            }
        }
    }
}
