import Foundation
import IMGAPI
import XCTest

/// UUIDs in IMGAPI form: what is valid, and new version 4 UUIDs.
final class ImageUUIDTests: XCTestCase {
    func testValidity() {
        XCTAssertTrue(ImageUUID.isValid("01b2c898-945f-11e1-a523-af1afbe22822"))
        for invalid in ["", "01b2c898-945f-11e1-a523-af1afbe2282", "01b2c898-945f-11e1-a523-af1afbe228222",
                        "01B2C898-945F-11E1-A523-AF1AFBE22822", "01b2c898x945f-11e1-a523-af1afbe22822",
                        "01b2c898-945f-11e1-a523-af1afbe2282g", "01b2c898-945f-11e1-a523-af1afbe2282é"] {
            XCTAssertFalse(ImageUUID.isValid(invalid), invalid)
        }
    }

    func testVersion4CarriesTheBitsGiven() {
        XCTAssertEqual(ImageUUID.version4(0, 0), "00000000-0000-4000-8000-000000000000")
        XCTAssertEqual(ImageUUID.version4(.max, .max), "ffffffff-ffff-4fff-bfff-ffffffffffff")
        XCTAssertEqual(ImageUUID.version4(0x0123_4567_89AB_CDEF, 0xFEDC_BA98_7654_3210), "01234567-89ab-4def-bedc-ba9876543210")
        // The same form as Foundation's, lower-cased.
        for _ in 0..<100 {
            let made = ImageUUID.random()
            XCTAssertTrue(ImageUUID.isValid(made), made)
            let parsed = try? XCTUnwrap(UUID(uuidString: made))
            XCTAssertEqual(parsed?.uuidString.lowercased(), made)
            XCTAssertEqual(Array(made.utf8)[14], UInt8(ascii: "4"))
            XCTAssertTrue("89ab".utf8.contains(Array(made.utf8)[19]), made)
        }
    }
}
