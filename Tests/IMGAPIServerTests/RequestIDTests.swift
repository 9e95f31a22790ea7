import IMGAPI
@testable import IMGAPIServer
import XCTest

/// Request ids the server makes: version 4 UUIDs, never the same twice in a process.
final class RequestIDTests: XCTestCase {
    func testIdsAreDistinctVersion4UUIDs() {
        var seen = Set<String>()
        for _ in 0..<100_000 {
            let id = RequestID.next()
            XCTAssertTrue(ImageUUID.isValid(id), id)
            XCTAssertEqual(Array(id.utf8)[14], UInt8(ascii: "4"), id)
            seen.insert(id)
        }
        XCTAssertEqual(seen.count, 100_000)
    }
}
