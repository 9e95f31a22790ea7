import XCTest
@testable import IMGAPI

final class ImageStateTests: XCTestCase {
    func testDerive() {
        XCTAssertEqual(ImageState.derive(activated: false, disabled: false), .unactivated)
        XCTAssertEqual(ImageState.derive(activated: false, disabled: true), .unactivated)
        XCTAssertEqual(ImageState.derive(activated: true, disabled: false), .active)
        XCTAssertEqual(ImageState.derive(activated: true, disabled: true), .disabled)
    }

    func testRawValues() {
        XCTAssertEqual(ImageState.allCases.map(\.rawValue), ["unactivated", "active", "disabled", "creating", "failed"])
    }

    func testCompressionsExcludeZstd() {
        XCTAssertEqual(ImageCompression.allCases.map(\.rawValue), ["gzip", "bzip2", "xz", "none"])
        XCTAssertNil(ImageCompression(rawValue: "zstd"))
    }
}
