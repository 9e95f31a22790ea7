import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// One element of an S3 XML answer: its name, its own text and its children.
struct S3XML {
    let name: String
    var text = ""
    var children: [S3XML] = []

    /// The first child named `name`.
    subscript(_ name: String) -> S3XML? { children.first { $0.name == name } }

    /// Every child named `name`.
    func all(_ name: String) -> [S3XML] { children.filter { $0.name == name } }

    /// The root element of `bytes`; nil when they are not XML.
    static func parse(_ bytes: [UInt8]) -> S3XML? {
        let builder = Builder()
        let parser = XMLParser(data: Data(bytes))
        parser.delegate = builder
        guard parser.parse() else { return nil }
        return builder.root
    }

    private final class Builder: NSObject, XMLParserDelegate {
        var stack: [S3XML] = []
        var root: S3XML?

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            stack.append(S3XML(name: name))
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            guard !stack.isEmpty else { return }
            stack[stack.count - 1].text += string
        }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            guard let done = stack.popLast() else { return }
            if stack.isEmpty { root = done } else { stack[stack.count - 1].children.append(done) }
        }
    }
}

/// An S3 request that failed: the operation, the HTTP status, and S3's error code and message.
public struct S3Error: Error, CustomStringConvertible {
    public let operation: String
    public let status: Int
    public let code: String
    public let message: String

    /// Worth trying again: the server failed or was busy, or the connection broke.
    public var isTransient: Bool { status == 0 || status >= 500 || code == "RequestTimeout" || code == "SlowDown" }

    public var description: String {
        status == 0 ? "\(operation): \(message)" : "\(operation): \(status) \(code): \(message)"
    }

    /// Reads an S3 `<Error>` body (or none, for HEAD) into an error.
    static func from(_ operation: String, status: Int, body: [UInt8]) -> S3Error {
        let xml = S3XML.parse(body)
        return S3Error(operation: operation, status: status, code: xml?["Code"]?.text ?? "HTTP\(status)",
                       message: xml?["Message"]?.text ?? "no error message")
    }
}
