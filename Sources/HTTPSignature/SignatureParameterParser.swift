import Foundation

/// Splits `Signature a="x",b="y"` into lower-cased parameter names and their quoted values.
enum SignatureParameterParser {
    /// Longest header accepted; a 16384-bit RSA signature needs under 3 KiB.
    static let maximumLength = 16 * 1024

    /// Parses the value; unknown parameters are kept, duplicates and stray characters throw.
    static func parse(_ authorization: String) throws -> [String: String] {
        guard authorization.utf8.count <= maximumLength else { throw SignatureHeaderError.malformed("header too long") }
        var rest = Substring(authorization.trimmingCharacters(in: .whitespaces))
        let scheme = rest.prefix(while: { !$0.isWhitespace })
        guard scheme.lowercased() == "signature" else {
            throw SignatureHeaderError.malformed("scheme is not \"Signature\"")
        }
        rest = rest.dropFirst(scheme.count).drop(while: \.isWhitespace)
        guard !rest.isEmpty else { throw SignatureHeaderError.malformed("no parameters") }

        var params: [String: String] = [:]
        while true {
            let name = rest.prefix(while: { $0 != "=" && $0 != "," && !$0.isWhitespace })
            guard !name.isEmpty else { throw SignatureHeaderError.malformed("expected a parameter name") }
            rest = rest.dropFirst(name.count)
            guard rest.first == "=" else { throw SignatureHeaderError.malformed("expected = after \(name)") }
            rest = rest.dropFirst()
            guard rest.first == "\"" else { throw SignatureHeaderError.malformed("value of \(name) is not quoted") }
            rest = rest.dropFirst()
            guard let close = rest.firstIndex(of: "\"") else {
                throw SignatureHeaderError.malformed("unterminated value of \(name)")
            }
            let key = name.lowercased()
            guard params[key] == nil else { throw SignatureHeaderError.malformed("duplicate parameter \(name)") }
            params[key] = String(rest[..<close])
            rest = rest[rest.index(after: close)...].drop(while: \.isWhitespace)
            if rest.isEmpty { return params }
            guard rest.first == "," else { throw SignatureHeaderError.malformed("expected , after \(name)") }
            rest = rest.dropFirst().drop(while: \.isWhitespace)
        }
    }
}
