import XCTest
@testable import IMGAPI

final class JSONParserTests: XCTestCase {
    func testParsesEveryKindOfValue() throws {
        let value = try JSONValue.parse(#" {"a": [1, -2.5, true, false, null, "x"], "b": {}} "#)
        XCTAssertEqual(value, .object(JSONObject([
            ("a", .array([.number(1), .number(-2.5), .bool(true), .bool(false), .null, .string("x")])),
            ("b", .object(JSONObject())),
        ])))
    }

    func testKeepsKeyOrder() throws {
        let object = try parseObject(#"{"z": 1, "a": 2, "m": 3}"#)
        XCTAssertEqual(object.keys, ["z", "a", "m"])
    }

    func testDuplicateKeyLastValueWinsAtFirstPosition() throws {
        let object = try parseObject(#"{"a": 1, "b": 2, "a": 3}"#)
        XCTAssertEqual(object.keys, ["a", "b"])
        XCTAssertEqual(object["a"], .number(3))
    }

    func testRefusesMalformedJSON() {
        let malformed = [
            "", " ", "{", "}", "[1,]", "{\"a\":1,}", "{a:1}", "{'a':1}", "[1 2]", "01", "1.", ".5", "-", "+1", "1e",
            "tru", "nul", "NaN", "Infinity", "\"abc", "\"a\u{01}b\"", "\"\\x\"", "\"\\u12\"", "[1] x", "{\"a\" 1}",
            "1e400", "[1,,2]",
        ]
        for text in malformed {
            XCTAssertThrowsError(try JSONValue.parse(text), "accepted \(text.debugDescription)")
        }
    }

    func testRefusesInvalidUTF8() {
        XCTAssertThrowsError(try JSONValue.parse([0x22, 0xC3, 0x28, 0x22] as [UInt8]))
        XCTAssertThrowsError(try JSONValue.parse([0x22, 0xFF, 0x22] as [UInt8]))
        XCTAssertThrowsError(try JSONValue.parse([0x22, 0xED, 0xA0, 0x80, 0x22] as [UInt8]), "encoded surrogate")
        XCTAssertThrowsError(try JSONValue.parse([0x22, 0xC0, 0xAF, 0x22] as [UInt8]), "overlong encoding")
        XCTAssertThrowsError(try JSONValue.parse([0x22, 0xE2, 0x82, 0x22] as [UInt8]), "truncated sequence")
        XCTAssertThrowsError(try JSONValue.parse([0xFF] as [UInt8]))
    }

    func testAcceptsMultiByteUTF8() throws {
        XCTAssertEqual(try JSONValue.parse("\"héllo ✓ 😀\""), .string("héllo ✓ 😀"))
        XCTAssertEqual(try JSONValue.parse("{\"ключ\": \"値\"}").objectValue?["ключ"], .string("値"))
    }

    func testDepthLimit() throws {
        let deepest = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        XCTAssertNoThrow(try JSONValue.parse(deepest))
        let tooDeep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        XCTAssertThrowsError(try JSONValue.parse(tooDeep))
        let deepObjects = String(repeating: "{\"a\":", count: 65) + "1" + String(repeating: "}", count: 65)
        XCTAssertThrowsError(try JSONValue.parse(deepObjects))
        XCTAssertNoThrow(try JSONValue.parse("[[1]]", maxDepth: 2))
        XCTAssertThrowsError(try JSONValue.parse("[[1]]", maxDepth: 1))
        XCTAssertThrowsError(try JSONValue.parse(String(repeating: "[", count: 100_000)))
    }

    func testNumbers() throws {
        let cases: [(String, Double)] = [
            ("42", 42), ("-0", 0), ("1e21", 1e21), ("0.000001", 0.000001), ("1e-7", 1e-7), ("1E+2", 100),
            ("-12.5e-1", -1.25), ("9007199254740993", 9007199254740992), ("0", 0), ("0.5", 0.5),
        ]
        for (text, expected) in cases {
            XCTAssertEqual(try JSONValue.parse(text), .number(expected), text)
        }
        XCTAssertEqual(try JSONValue.parse("-0").numberValue?.sign, .minus)
    }

    func testEscapes() throws {
        XCTAssertEqual(try JSONValue.parse(#""\"\\\/\b\f\n\r\t""#), .string("\"\\/\u{08}\u{0C}\n\r\t"))
        XCTAssertEqual(try JSONValue.parse(#""\u0041\u00e9\u20AC""#), .string("Aé€"))
        XCTAssertEqual(try JSONValue.parse(#""a\u0000b""#), .string("a\u{0}b"))
    }

    func testSurrogatePairs() throws {
        XCTAssertEqual(try JSONValue.parse(#""\ud83d\ude00""#), .string("😀"))
        XCTAssertEqual(try JSONValue.parse(#""\uD834\uDD1E""#), .string("𝄞"))
        for lone in [#""\ud83d""#, #""\ude00""#, #""\ud83d x""#, #""\ud83d\u0041""#, #""\ud83d\n""#] {
            XCTAssertThrowsError(try JSONValue.parse(lone), lone)
        }
    }

    func testSyntaxErrorReportsOffset() {
        XCTAssertThrowsError(try JSONValue.parse("[1, x]")) { error in
            XCTAssertEqual((error as? JSONSyntaxError)?.offset, 4)
        }
    }
}
