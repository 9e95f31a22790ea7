import XCTest
@testable import IMGAPI

final class JSONSerializerTests: XCTestCase {
    /// Expected strings are what Node's `JSON.stringify` prints.
    func testNumbersPrintAsJavaScriptDoes() {
        let cases: [(Double, String)] = [
            (42, "42"), (-0.0, "0"), (0, "0"), (1e21, "1e+21"), (1e20, "100000000000000000000"),
            (0.000001, "0.000001"), (1e-7, "1e-7"), (1.5e-7, "1.5e-7"), (123.456, "123.456"), (0.1, "0.1"),
            (-2.5, "-2.5"), (1.5e300, "1.5e+300"), (-1e21, "-1e+21"), (10485760, "10485760"),
            (9007199254740992, "9007199254740992"), (123456789012345683968, "123456789012345680000"),
            (Double.leastNonzeroMagnitude, "5e-324"), (0.30000000000000004, "0.30000000000000004"), (1e100, "1e+100"),
            (-0.000001, "-0.000001"), (1.7976931348623157e308, "1.7976931348623157e+308"),
            (1152921504606846976, "1152921504606847000"), (-1152921504606846976, "-1152921504606847000"),
            (9007199254740994, "9007199254740994"), (9.1e18, "9100000000000000000"), (1e16, "10000000000000000"),
        ]
        for (number, expected) in cases {
            XCTAssertEqual(JSONValue.number(number).compact(), expected, "\(number)")
        }
    }

    func testParsedNumbersPrintBackAsJavaScriptDoes() throws {
        let cases = [("1e21", "1e+21"), ("0.000001", "0.000001"), ("1e-7", "1e-7"), ("-0", "0"), ("42", "42"), ("42.0", "42")]
        for (text, expected) in cases {
            XCTAssertEqual(try JSONValue.parse(text).compact(), expected, text)
        }
    }

    func testStringEscapes() {
        XCTAssertEqual(JSONValue.string("a\"b\\c/d").compact(), #""a\"b\\c/d""#)
        XCTAssertEqual(JSONValue.string("\u{08}\u{0C}\n\r\t").compact(), #""\b\f\n\r\t""#)
        XCTAssertEqual(JSONValue.string("\u{0}\u{1f}\u{7f}").compact(), "\"\\u0000\\u001f\u{7f}\"")
        XCTAssertEqual(JSONValue.string("é😀\u{2028}").compact(), "\"é😀\u{2028}\"")
    }

    func testCompactLayout() throws {
        let value = try JSONValue.parse(#"{ "a" : [ 1 , { } , [ ] ] , "b" : null }"#)
        XCTAssertEqual(value.compact(), #"{"a":[1,{},[]],"b":null}"#)
    }

    func testPrettyLayoutMatchesStringifyWithTwoSpaces() throws {
        let value = try JSONValue.parse(#"{"a":[1,{"b":true}],"c":{},"d":[]}"#)
        XCTAssertEqual(value.prettyPrinted(), """
        {
          "a": [
            1,
            {
              "b": true
            }
          ],
          "c": {},
          "d": []
        }
        """)
    }

    func testPrettyLevelIndentsContinuationLines() {
        let value = JSONValue.object(JSONObject([("a", .number(1))]))
        XCTAssertEqual(value.prettyPrinted(level: 1), "{\n    \"a\": 1\n  }")
    }

    func testRoundTrip() throws {
        let text = #"{"v":2,"name":"x","tags":{"k":[1,2.5,"s",null,false]},"n":-0.5}"#
        XCTAssertEqual(try JSONValue.parse(text).compact(), text)
    }
}
