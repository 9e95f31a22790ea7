import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import IMGAPI
import NIOCore

/// Reads a JSON request body: bounded in size, checked against `Content-MD5` and `Digest`
/// when sent (the node client sends Content-MD5), and parsed strictly.
enum RequestBodyReader {
    static func json(_ request: Request, limit: Int) async throws -> JSONValue? {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
            throw IMGAPIError.payloadTooLarge("request body is larger than \(limit) bytes")
        }
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: limit)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw IMGAPIError.payloadTooLarge("request body is larger than \(limit) bytes")
        } catch is NIOTooManyBytesError {
            // A chunked body gives no length up front: it is refused once it crosses the limit.
            throw IMGAPIError.payloadTooLarge("request body is larger than \(limit) bytes")
        } catch {
            throw IMGAPIError.badRequest("the request body ended before its announced length")
        }
        let bytes = Array(buffer.readableBytesView)
        if let md5 = request.headers[HTTPField.Name("Content-MD5")!] {
            let actual = Data(Insecure.MD5.hash(data: bytes)).base64EncodedString()
            guard md5 == actual else {
                throw IMGAPIError(status: 400, code: "BadDigest", message: "Content-MD5 header does not match the request body")
            }
        }
        if let sha256 = try RequestDigest.sha256(request), Hex.encode(SHA256.hash(data: bytes)) != sha256 {
            throw RequestDigest.mismatch()
        }
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return nil }
        if let type = request.headers[.contentType], !isJSON(type) {
            throw IMGAPIError(status: 415, code: "UnsupportedMediaType",
                              message: "Content-Type \"\(type)\" is not JSON: send the body as application/json")
        }
        do {
            return try JSONValue.parse(bytes)
        } catch {
            throw IMGAPIError(status: 400, code: "InvalidContent", message: "invalid JSON: \(error.description)")
        }
    }

    /// `application/json` or a `+json` type, with any parameters (`; charset=utf-8`).
    static func isJSON(_ contentType: String) -> Bool {
        let mediaType = contentType.split(separator: ";", maxSplits: 1).first.map {
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        } ?? ""
        return mediaType == "application/json" || (mediaType.hasPrefix("application/") && mediaType.hasSuffix("+json"))
    }
}
