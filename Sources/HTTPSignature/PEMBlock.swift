import Foundation

/// One `-----BEGIN LABEL-----` … `-----END LABEL-----` block, with RFC 1421 headers such as `Proc-Type`.
struct PEMBlock {
    /// The label, e.g. `OPENSSH PRIVATE KEY`.
    let label: String
    /// The `Name: value` header lines before the base64 body.
    let headers: [String: String]
    /// The decoded body.
    let der: [UInt8]

    /// Finds the first block in `text`; throws when there is none or its body is not base64.
    init(text: String) throws {
        let lines = text.split(omittingEmptySubsequences: true, whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        guard let begin = lines.firstIndex(where: { $0.hasPrefix("-----BEGIN ") && $0.hasSuffix("-----") }) else {
            throw SSHKeyError.invalidFormat("no -----BEGIN ...----- line")
        }
        let label = String(lines[begin].dropFirst("-----BEGIN ".count).dropLast("-----".count))
        guard let end = lines[(begin + 1)...].firstIndex(of: "-----END \(label)-----") else {
            throw SSHKeyError.invalidFormat("no -----END \(label)----- line")
        }
        var headers: [String: String] = [:]
        var body = ""
        for line in lines[(begin + 1)..<end] {
            if body.isEmpty, let colon = line.firstIndex(of: ":") {
                headers[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            } else {
                body += line
            }
        }
        guard let der = Data(base64Encoded: body), !der.isEmpty else {
            throw SSHKeyError.invalidFormat("\(label) body is not valid base64")
        }
        self.label = label
        self.headers = headers
        self.der = [UInt8](der)
    }
}
