import HTTPTypes
import Hummingbird
import IMGAPI

/// `If-Match`, `If-None-Match` and `If-Modified-Since` against a resource's validators.
enum ConditionalRequest {
    enum Outcome: Equatable {
        case proceed
        case notModified
    }

    /// Throws `412 PreconditionFailed` when `If-Match` names another version.
    static func evaluate(_ headers: HTTPFields, etag: String, lastModified: Int64? = nil) throws -> Outcome {
        if let ifMatch = headers[.ifMatch], !matches(ifMatch, etag) {
            throw IMGAPIError.preconditionFailed("if-match \"\(ifMatch)\" didn't match etag \"\(etag)\"")
        }
        if let ifNoneMatch = headers[.ifNoneMatch] {
            return matches(ifNoneMatch, etag) ? .notModified : .proceed
        }
        if let lastModified, let since = headers[.ifModifiedSince].flatMap(HTTPDate.milliseconds),
           lastModified / 1000 <= since / 1000 {
            return .notModified
        }
        return .proceed
    }

    /// Whether an `If-Range` value (an entity tag or a date) still describes the resource.
    static func rangeStillValid(_ headers: HTTPFields, etag: String, lastModified: Int64?) -> Bool {
        guard let ifRange = headers[.ifRange] else { return true }
        if let date = HTTPDate.milliseconds(ifRange) { return lastModified.map { date / 1000 == $0 / 1000 } ?? false }
        return normalized(ifRange) == etag
    }

    /// Comma-separated tags, quotes and `W/` ignored, `*` matching anything (as restify does).
    static func matches(_ header: String, _ etag: String) -> Bool {
        header.split(separator: ",").contains { tag in
            let tag = normalized(String(tag))
            return tag == "*" || tag == etag
        }
    }

    private static func normalized(_ tag: String) -> String {
        var tag = Substring(tag.trimmingSpaces())
        if tag.hasPrefix("W/") { tag = tag.dropFirst(2) }
        if tag.count >= 2, tag.hasPrefix("\""), tag.hasSuffix("\"") { tag = tag.dropFirst().dropLast() }
        return String(tag)
    }
}

extension BufferedAnswer {
    static func notModified(etag: String) -> BufferedAnswer {
        var headers = HTTPFields()
        headers[.eTag] = etag
        return BufferedAnswer(status: .notModified, headers: headers, body: nil)
    }
}
