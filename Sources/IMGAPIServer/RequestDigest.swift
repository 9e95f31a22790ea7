import Foundation
import Hummingbird
import HTTPTypes
import IMGAPI

/// The `Digest` request header (RFC 3230) that clients signing a body send and sign:
/// `SHA-256=<base64>`. A body that does not match it is refused, whether it is JSON or a file.
enum RequestDigest {
    /// The SHA-256 the header promises, in hex; nil without a `Digest` header.
    static func sha256(_ request: Request) throws -> String? {
        guard let header = request.headers[.digest] else { return nil }
        for part in header.split(separator: ",") {
            let pair = part.trimmingCharacters(in: .whitespaces)
            guard let equals = pair.firstIndex(of: "="), pair[..<equals].lowercased() == "sha-256" else { continue }
            guard let bytes = Data(base64Encoded: String(pair[pair.index(after: equals)...])), bytes.count == 32 else { break }
            return Hex.encode(bytes)
        }
        throw IMGAPIError.badRequest("the Digest header holds no valid SHA-256 value: send Digest: SHA-256=<base64 of the body's SHA-256>")
    }

    /// 400 `BadDigest` for a body whose SHA-256 is not the one the header promised.
    static func mismatch() -> IMGAPIError {
        IMGAPIError(status: 400, code: "BadDigest", message: "the Digest header does not match the request body")
    }
}

extension HTTPField.Name {
    static let digest = HTTPField.Name("Digest")!
}
