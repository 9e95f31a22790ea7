extension JSONValue {
    /// `JSON.stringify(value, null, 2)`: the exact layout the reference server sends.
    /// `level` indents every line after the first by that many extra levels,
    /// which is how an element sits inside a pretty-printed array.
    public func prettyPrinted(level: Int = 0) -> String {
        var out = ""
        JSONWriter(pretty: true).write(self, level: level, into: &out)
        return out
    }

    /// `JSON.stringify(value)`: no whitespace.
    public func compact() -> String {
        var out = ""
        JSONWriter(pretty: false).write(self, level: 0, into: &out)
        return out
    }
}

extension JSONValue {
    /// Appends `text` as a JSON string, quoted and escaped as `JSON.stringify` does.
    public static func appendQuoted(_ text: String, to out: inout String) {
        JSONWriter.writeString(text, into: &out)
    }
}

extension JSONObject {
    public func prettyPrinted(level: Int = 0) -> String { JSONValue.object(self).prettyPrinted(level: level) }
    public func compact() -> String { JSONValue.object(self).compact() }
}

private struct JSONWriter {
    let pretty: Bool

    func newline(_ level: Int, into out: inout String) {
        guard pretty else { return }
        out.append("\n")
        out.append(String(repeating: "  ", count: level))
    }

    func write(_ value: JSONValue, level: Int, into out: inout String) {
        switch value {
        case .null: out.append("null")
        case .bool(let b): out.append(b ? "true" : "false")
        case .number(let n): out.append(JSONWriter.javaScriptString(n))
        case .string(let s): JSONWriter.writeString(s, into: &out)
        case .array(let items):
            guard !items.isEmpty else { out.append("[]"); return }
            out.append("[")
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(",") }
                newline(level + 1, into: &out)
                write(item, level: level + 1, into: &out)
            }
            newline(level, into: &out)
            out.append("]")
        case .object(let object):
            guard !object.isEmpty else { out.append("{}"); return }
            out.append("{")
            var first = true
            for (key, item) in object {
                if !first { out.append(",") }
                first = false
                newline(level + 1, into: &out)
                JSONWriter.writeString(key, into: &out)
                out.append(pretty ? ": " : ":")
                write(item, level: level + 1, into: &out)
            }
            newline(level, into: &out)
            out.append("}")
        }
    }

    static func writeString(_ s: String, into out: inout String) {
        out.append("\"")
        defer { out.append("\"") }
        // Most strings need no escape: append them whole.
        guard s.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) else {
            return out.append(s)
        }
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out.append("\\\"")
            case "\\": out.append("\\\\")
            case "\u{08}": out.append("\\b")
            case "\u{0C}": out.append("\\f")
            case "\n": out.append("\\n")
            case "\r": out.append("\\r")
            case "\t": out.append("\\t")
            case "\u{00}"..."\u{1F}":
                let hex = String(scalar.value, radix: 16)
                out.append("\\u" + String(repeating: "0", count: 4 - hex.count) + hex)
            default: out.unicodeScalars.append(scalar)
            }
        }
    }

    /// ECMAScript Number::toString, so numbers print as the reference prints them.
    static func javaScriptString(_ n: Double) -> String {
        if n == 0 { return "0" }
        // Up to 2^53 an integer's shortest round-trip digits are all its digits; above, JavaScript
        // prints the shortest digits padded with zeros (2^60 -> 1152921504606847000), as below does.
        if n.rounded() == n, abs(n) <= 9_007_199_254_740_992 { return String(Int64(n)) }
        // Swift's description is the shortest round-tripping digits; re-lay them out as JavaScript does.
        let negative = n < 0
        let text = abs(n).description
        var mantissa = Substring(text)
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = text[..<e]
            exponent = Int(text[text.index(after: e)...]) ?? 0
        }
        var digits = mantissa.replacingOccurrences(of: ".")
        var pointPosition = (mantissa.firstIndex(of: ".").map { mantissa.distance(from: mantissa.startIndex, to: $0) } ?? mantissa.count)
        while digits.hasPrefix("0") && digits.count > 1 { digits.removeFirst(); pointPosition -= 1 }
        while digits.hasSuffix("0") && digits.count > 1 { digits.removeLast() }
        let k = digits.count
        let point = pointPosition + exponent  // value = 0.digits * 10^point
        var result: String
        if k <= point && point <= 21 {
            result = digits + String(repeating: "0", count: point - k)
        } else if 0 < point && point <= 21 {
            let i = digits.index(digits.startIndex, offsetBy: point)
            result = digits[..<i] + "." + digits[i...]
        } else if -6 < point && point <= 0 {
            result = "0." + String(repeating: "0", count: -point) + digits
        } else {
            let e = point - 1
            let head = String(digits.prefix(1))
            let tail = digits.dropFirst()
            result = head + (tail.isEmpty ? "" : "." + tail) + "e" + (e >= 0 ? "+" : "-") + String(abs(e))
        }
        return negative ? "-" + result : result
    }
}

private extension Substring {
    func replacingOccurrences(of character: Character) -> String {
        String(filter { $0 != character })
    }
}
