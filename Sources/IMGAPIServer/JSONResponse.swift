import Crypto
import HTTPTypes
import Hummingbird
import IMGAPI
import NIOCore

extension Response {
    /// A JSON body already serialized, with the reference's headers.
    static func json(_ text: String, status: HTTPResponse.Status = .ok, etag: Bool = false) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.contentLength] = String(text.utf8.count)
        if etag { headers[.eTag] = JSONBody.etag(text) }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    /// A JSON body already serialized into bytes (shared, not copied), with its ETag if known.
    static func json(_ bytes: ByteBuffer, etag: String? = nil) -> Response {
        BufferedAnswer.json(bytes, etag: etag).response
    }

    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        json(value.prettyPrinted(), status: status)
    }

    static func error(_ error: IMGAPIError) -> Response {
        json(error.body, status: HTTPResponse.Status(code: error.status))
    }
}

/// A whole answer held in memory: written by `MemoryAnswerHandler` straight from the event
/// loop, or made a `Response` for Hummingbird to write.
struct BufferedAnswer: Sendable {
    var status: HTTPResponse.Status = .ok
    var headers: HTTPFields
    /// Nil for an answer without a body (304).
    var body: ByteBuffer?

    var response: Response {
        Response(status: status, headers: headers, body: body.map { ResponseBody(byteBuffer: $0) } ?? ResponseBody())
    }

    /// A JSON body already serialized into bytes (shared, not copied), with its ETag if known.
    static func json(_ bytes: ByteBuffer, etag: String? = nil) -> BufferedAnswer {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.contentLength] = String(bytes.readableBytes)
        if let etag { headers[.eTag] = etag }
        return BufferedAnswer(headers: headers, body: bytes)
    }
}

enum JSONBody {
    /// The reference's object ETag: SHA-1 of the JSON text, unquoted.
    static func etag(_ text: String) -> String {
        Hex.encode(Insecure.SHA1.hash(data: Array(text.utf8)))
    }

    /// `[` items `]`, each item already rendered one level deep: the ListImages body.
    static func array(_ items: [String]) -> ByteBuffer {
        guard !items.isEmpty else { return ByteBuffer(string: "[]") }
        var out = ByteBuffer()
        out.reserveCapacity(items.reduce(4) { $0 + $1.utf8.count + 4 })
        for (i, item) in items.enumerated() {
            out.writeString(i > 0 ? ",\n  " : "[\n  ")
            out.writeString(item)
        }
        out.writeString("\n]")
        return out
    }
}
