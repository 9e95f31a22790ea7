import XCTest
@testable import HTTPSignature

final class SigningStringTests: XCTestCase {
    private let headers = ["date": "Sun, 22 Nov 2026 02:41:35 GMT", "content-md5": "abc=", "x-empty": ""]

    func testDefaultIsTheDateLine() throws {
        let string = try SignatureHeader.signingString(headers: ["date"], method: "GET", path: "/ping") { self.headers[$0] }
        XCTAssertEqual(string, "date: Sun, 22 Nov 2026 02:41:35 GMT")
    }

    func testRequestTargetAndSeveralHeadersInListedOrder() throws {
        let string = try SignatureHeader.signingString(
            headers: ["(request-target)", "Content-MD5", "date", "x-empty"], method: "POST",
            path: "/images/abc?action=activate&channel=dev"
        ) { self.headers[$0] }
        XCTAssertEqual(string, """
            (request-target): post /images/abc?action=activate&channel=dev
            content-md5: abc=
            date: Sun, 22 Nov 2026 02:41:35 GMT
            x-empty: 
            """)
    }

    func testMissingHeaderThrows() {
        XCTAssertThrowsError(
            try SignatureHeader.signingString(headers: ["date", "host"], method: "GET", path: "/") { self.headers[$0] }
        ) { error in
            XCTAssertEqual(error as? SignatureHeaderError, .missingHeader("host"))
        }
    }
}
