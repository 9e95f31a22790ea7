import Foundation

/// Where image files live in S3-compatible storage, as an operator writes it:
/// `s3://BUCKET[/PREFIX]?endpoint=URL&region=REGION`. Requests use path-style addresses
/// (`ENDPOINT/BUCKET/KEY`), which every S3-compatible server answers.
public struct S3Location: Sendable, Equatable, CustomStringConvertible {
    public let bucket: String
    /// Keys start with this (no leading or trailing `/`; empty for none).
    public let prefix: String
    /// `scheme://host[:port]`, without a trailing `/`.
    public let endpoint: String
    public let region: String

    public init(bucket: String, prefix: String = "", endpoint: String, region: String) {
        self.bucket = bucket
        self.prefix = prefix
        self.endpoint = endpoint
        self.region = region
    }

    /// Reads `s3://bucket/prefix?endpoint=…&region=…`; `endpoint` defaults to AWS's regional
    /// one and `region` to `us-east-1`. Throws a sentence saying what is wrong.
    public init(parsing text: String) throws(S3LocationError) {
        guard let components = URLComponents(string: text), components.scheme == "s3",
              let bucket = components.host, !bucket.isEmpty else {
            throw S3LocationError("\"\(text)\" is not s3://BUCKET/PREFIX?endpoint=URL&region=REGION")
        }
        guard bucket.utf8.count <= 63, bucket.allSatisfy({ $0.isLowercase || $0.isNumber || $0 == "-" || $0 == "." }) else {
            throw S3LocationError("bucket \"\(bucket)\" is not a valid bucket name (lower-case letters, digits, - and .)")
        }
        var region = "us-east-1", endpoint: String?
        for item in components.queryItems ?? [] {
            switch item.name {
            case "region": region = item.value ?? ""
            case "endpoint": endpoint = item.value
            default: throw S3LocationError("unknown parameter \"\(item.name)\" in \(text) (known: endpoint, region)")
            }
        }
        guard !region.isEmpty else { throw S3LocationError("\"region\" is empty in \(text)") }
        var base = endpoint ?? "https://s3.\(region).amazonaws.com"
        while base.hasSuffix("/") { base.removeLast() }
        guard let url = URLComponents(string: base), url.scheme == "http" || url.scheme == "https", url.host?.isEmpty == false,
              url.path.isEmpty, url.query == nil else {
            throw S3LocationError("endpoint \"\(base)\" must be http(s)://HOST[:PORT]")
        }
        let prefix = components.path.split(separator: "/").joined(separator: "/")
        self.init(bucket: bucket, prefix: prefix, endpoint: base, region: region)
    }

    /// The object key of `name` under the prefix.
    public func key(_ name: String) -> String {
        prefix.isEmpty ? name : prefix + "/" + name
    }

    public var description: String {
        "s3://\(bucket)\(prefix.isEmpty ? "" : "/" + prefix)?endpoint=\(endpoint)&region=\(region)"
    }
}

/// An `s3://` location that cannot be used, and why.
public struct S3LocationError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
