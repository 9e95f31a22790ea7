/// The few JavaScript conversions the reference validator relies on, so that we
/// accept and refuse the same manifests.
extension JSONValue {
    /// `Number(value)`, or nil where JavaScript gives NaN. Arrays and objects count as NaN.
    var javaScriptNumber: Double? {
        switch self {
        case .number(let n): return n
        case .bool(let b): return b ? 1 : 0
        case .null: return 0
        case .string(let s):
            let trimmed = s.trimmingJavaScriptWhitespace()
            if trimmed.isEmpty { return 0 }
            guard trimmed.unicodeScalars.allSatisfy({ "0123456789+-.eE".unicodeScalars.contains($0) }),
                  let n = Double(trimmed) else { return nil }
            return n
        case .array, .object: return nil
        }
    }

    /// `boolFromString`: a boolean, or the strings `"true"` / `"false"` as stored by old servers.
    var looseBool: Bool? {
        switch self {
        case .bool(let b): return b
        case .string("true"): return true
        case .string("false"): return false
        default: return nil
        }
    }

    /// `String(value)`, used to quote a value inside an error message.
    var javaScriptText: String {
        switch self {
        case .string(let s): return s
        case .array(let items): return items.map { $0 == .null ? "" : $0.javaScriptText }.joined(separator: ",")
        case .object: return "[object Object]"
        case .null, .bool, .number: return compact()
        }
    }
}

extension String {
    /// JavaScript's `.length`: UTF-16 code units.
    var javaScriptLength: Int { utf16.count }

    /// `String.prototype.trim()`, near enough: leading and trailing whitespace removed.
    func trimmingJavaScriptWhitespace() -> Substring {
        let isSpace: (Character) -> Bool = { $0.isWhitespace }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return self[first...last]
    }

    /// Whether every character is one of `allowed` (ASCII only) and there is at least one.
    func consists(of allowed: String) -> Bool {
        !isEmpty && unicodeScalars.allSatisfy { allowed.unicodeScalars.contains($0) }
    }

    /// Whether the string has the shape of `template`, where `#` stands for one ASCII digit
    /// and every other character stands for itself.
    func matchesDigitTemplate(_ template: String) -> Bool {
        let bytes = Array(utf8), pattern = Array(template.utf8)
        guard bytes.count == pattern.count else { return false }
        for (b, p) in zip(bytes, pattern) {
            if p == UInt8(ascii: "#") {
                guard b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") else { return false }
            } else if b != p {
                return false
            }
        }
        return true
    }
}

/// Character sets of the manifest's regular expressions.
enum ManifestCharacters {
    static let alphanumeric = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    /// `^[A-Za-z0-9._/ -]+$`
    static let name = alphanumeric + "._/ -"
    /// `^[A-Za-z0-9._/+-]+$`
    static let version = alphanumeric + "._/+-"
}
