import XCTest
@testable import IMGAPI

final class APIVersionTests: XCTestCase {
    func testAbsentMeansVersionOne() throws {
        XCTAssertEqual(try APIVersion.negotiate(nil, method: "GET", path: "/images"), .v1)
        XCTAssertEqual(try APIVersion.negotiate("  ", method: "GET", path: "/images"), .v1)
    }

    func testRangesReachingTwoGetVersionTwo() throws {
        for range in ["~2", "*", "2.x", "2", ">=1", "^2.0.0", "2.0.0", "=2.0.0", ">1.0.0", "1 - 2", "~1 || ~2", ">=1.0.0 <3",
                      "x", "v2.0.0", "~>2", ">1"] {
            XCTAssertEqual(try APIVersion.negotiate(range, method: "GET", path: "/images"), .v2, range)
        }
    }

    func testRangesBelowTwoGetVersionOne() throws {
        for range in ["~1", "1.x", "1", "^1", "1.0.0", "<2", "<=1.9", ">=1 <2", "1.0.0 - 1.5", "~1.0", "<=1.0.0"] {
            XCTAssertEqual(try APIVersion.negotiate(range, method: "GET", path: "/images"), .v1, range)
        }
    }

    func testUnsatisfiableOrMalformedRangesAreInvalidVersion() {
        for range in ["~99", "3", ">2.0.0", "<1", "~2.1", "banana", "1.2.3.4", "~", ">=", "1.-1", "2 - ", "||"] {
            XCTAssertThrowsError(try APIVersion.negotiate(range, method: "GET", path: "/images"), range) { error in
                XCTAssertEqual((error as? IMGAPIError)?.code, "InvalidVersion", range)
                XCTAssertEqual((error as? IMGAPIError)?.status, 400, range)
            }
        }
    }
}

final class APIVersionOverflowTests: XCTestCase {
    /// These trapped while computing a range's upper bound, killing the server.
    func testHugeNumbersAreInvalidVersionNotACrash() {
        for range in ["~9223372036854775807", "^0.0.9223372036854775807", "1.2.9223372036854775807",
                      "~>9223372036854775807", "99999999999999999999", "^9223372036854775807", "<=1.9223372036854775807",
                      ">9223372036854775807", "9223372036854775807.x", "~9007199254740992", "+2", "~1." + String(repeating: "9", count: 300)] {
            XCTAssertThrowsError(try APIVersion.negotiate(range, method: "HEAD", path: "/ping"), range) { error in
                XCTAssertEqual((error as? IMGAPIError)?.code, "InvalidVersion", range)
            }
        }
    }

    func testRefusalNamesTheRequest() {
        XCTAssertThrowsError(try APIVersion.negotiate("~99", method: "PUT", path: "/images/x/file")) { error in
            XCTAssertEqual((error as? IMGAPIError)?.message, "~99 is not supported by PUT /images/x/file (versions: 1.0.0, 2.0.0)")
        }
    }
}
