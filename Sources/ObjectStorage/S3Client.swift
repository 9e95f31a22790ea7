import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1

/// A client for S3-compatible object storage: objects put, read (with ranges), described
/// and deleted, and large files uploaded as multipart uploads, each request signed with
/// AWS Signature Version 4.
public struct S3Client: Sendable {
    public let location: S3Location
    let signer: SignatureV4
    let http: HTTPClient

    /// Connecting gives up after 10 s, an answer that sends nothing for 60 s is given up;
    /// redirects are not followed, bodies not decompressed.
    public static let sharedHTTPClient: HTTPClient = {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow, timeout: .init(connect: .seconds(10), read: .seconds(60)),
            decompression: .disabled)
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    public init(location: S3Location, credentials: S3Credentials, http: HTTPClient = S3Client.sharedHTTPClient) {
        self.location = location
        signer = SignatureV4(credentials: credentials, region: location.region)
        self.http = http
    }

    /// What `HEAD` tells of an object.
    public struct ObjectInfo: Sendable, Equatable {
        public let size: Int64
        public let etag: String
    }

    /// A multipart upload that was started and neither completed nor aborted.
    public struct IncompleteUpload: Sendable {
        /// The object's name under the location's prefix, as the other calls take it.
        public let key: String
        public let uploadID: String
        public let initiated: Date
    }

    // MARK: Objects

    public func putObject(_ key: String, _ bytes: ByteBuffer) async throws {
        let response = try await send(.PUT, key, body: bytes, operation: "PUT \(key)")
        _ = try await expect(response, [200], "PUT \(key)")
    }

    /// The object's size and ETag; nil when there is none.
    public func headObject(_ key: String) async throws -> ObjectInfo? {
        let response = try await send(.HEAD, key, operation: "HEAD \(key)")
        if response.status.code == 404 { return nil }
        _ = try await expect(response, [200], "HEAD \(key)")
        guard let size = response.headers.first(name: "Content-Length").flatMap(Int64.init) else {
            throw S3Error(operation: "HEAD \(key)", status: 200, code: "NoLength", message: "the answer has no Content-Length")
        }
        return ObjectInfo(size: size, etag: response.headers.first(name: "ETag") ?? "")
    }

    /// The object's bytes, or `range` of them, as they arrive; the caller reads the body.
    public func getObject(_ key: String, range: Range<Int64>? = nil) async throws -> HTTPClientResponse {
        let headers = range.map { [("Range", "bytes=\($0.lowerBound)-\($0.upperBound - 1)")] } ?? []
        let response = try await send(.GET, key, headers: headers, operation: "GET \(key)")
        guard response.status.code == (range == nil ? 200 : 206) else {
            throw S3Error.from("GET \(key)", status: Int(response.status.code), body: try await Self.body(of: response, "GET \(key)"))
        }
        return response
    }

    /// Removes the object; one that is not there is no error.
    public func deleteObject(_ key: String) async throws {
        let response = try await send(.DELETE, key, operation: "DELETE \(key)")
        _ = try await expect(response, [200, 204, 404], "DELETE \(key)")
    }

    // MARK: Multipart uploads

    /// Bytes per part: S3 takes 5 MiB at least (but for the last part) and 10,000 parts at most.
    public static let defaultPartSize = 16 * 1024 * 1024

    /// Streams `body` to the object `key`: one PUT when it fits in one part, else a
    /// multipart upload whose parts (each held in memory, `partSize` bytes) are sent as they
    /// fill and tried up to three times. On any failure the upload is aborted, so no part is
    /// left behind, and the error rethrown. Returns the bytes stored.
    @discardableResult
    public func upload(_ key: String, from body: some AsyncSequence<ByteBuffer, any Error>,
                       partSize: Int = defaultPartSize) async throws -> Int64 {
        precondition(partSize >= 5 * 1024 * 1024, "S3 parts are 5 MiB at least")
        var chunks = body.makeAsyncIterator()
        var part = ByteBuffer()
        var total: Int64 = 0
        /// Reads the body into `part` until it holds a whole part or the body ends.
        func fill() async throws {
            while part.readableBytes < partSize, var chunk = try await chunks.next() {
                total += Int64(chunk.readableBytes)
                part.writeBuffer(&chunk)
            }
        }
        try await fill()
        guard part.readableBytes >= partSize else {
            try await putObject(key, part)  // the whole object fits in one request
            return total
        }
        let id = try await createMultipartUpload(key)
        var parts: [(Int, String)] = []
        do {
            while part.readableBytes > 0 {
                guard parts.count < 10_000 else {
                    throw S3Error(operation: "PUT \(key)", status: 0, code: "TooManyParts", message: "more than 10,000 parts")
                }
                let (number, bytes) = (parts.count + 1, part)
                parts.append((number, try await retrying { try await uploadPart(key, uploadID: id, number: number, bytes) }))
                part.clear()
                try await fill()
            }
            try await retrying { try await completeMultipartUpload(key, uploadID: id, parts: parts) }
            return total
        } catch {
            try? await abortMultipartUpload(key, uploadID: id)
            throw error
        }
    }

    public func createMultipartUpload(_ key: String) async throws -> String {
        let operation = "start the multipart upload of \(key)"
        let response = try await send(.POST, key, query: [("uploads", "")], operation: operation)
        let xml = try await expect(response, [200], operation)
        guard let id = xml?["UploadId"]?.text, !id.isEmpty else {
            throw S3Error(operation: operation, status: 200, code: "NoUploadId", message: "the answer names no UploadId")
        }
        return id
    }

    /// Sends one part; returns its ETag.
    public func uploadPart(_ key: String, uploadID: String, number: Int, _ bytes: ByteBuffer) async throws -> String {
        let operation = "PUT part \(number) of \(key)"
        let response = try await send(.PUT, key, query: [("partNumber", String(number)), ("uploadId", uploadID)], body: bytes,
                                      operation: operation)
        _ = try await expect(response, [200], operation)
        guard let etag = response.headers.first(name: "ETag") else {
            throw S3Error(operation: operation, status: 200, code: "NoETag", message: "the answer has no ETag")
        }
        return etag
    }

    public func completeMultipartUpload(_ key: String, uploadID: String, parts: [(Int, String)]) async throws {
        let operation = "complete the multipart upload of \(key)"
        var xml = "<CompleteMultipartUpload>"
        for (number, etag) in parts {
            xml += "<Part><PartNumber>\(number)</PartNumber><ETag>\(Self.escaped(etag))</ETag></Part>"
        }
        xml += "</CompleteMultipartUpload>"
        let response = try await send(.POST, key, query: [("uploadId", uploadID)], body: ByteBuffer(string: xml),
                                      operation: operation)
        let answer = try await expect(response, [200], operation)
        // S3 may answer 200 and report the failure in the body.
        if answer?.name == "Error" {
            throw S3Error(operation: operation, status: 200, code: answer?["Code"]?.text ?? "Error",
                          message: answer?["Message"]?.text ?? "no error message")
        }
    }

    public func abortMultipartUpload(_ key: String, uploadID: String) async throws {
        let operation = "abort the multipart upload of \(key)"
        let response = try await send(.DELETE, key, query: [("uploadId", uploadID)], operation: operation)
        _ = try await expect(response, [200, 204, 404], operation)
    }

    /// Multipart uploads under the prefix that were neither completed nor aborted.
    public func incompleteUploads() async throws -> [IncompleteUpload] {
        var uploads: [IncompleteUpload] = []
        var markers: [(String, String)] = []
        for _ in 0..<1000 {
            let operation = "list the multipart uploads of \(location.bucket)"
            let query = [("uploads", ""), ("prefix", location.prefix)] + markers
            let response = try await send(.GET, nil, query: query, operation: operation)
            let xml = try await expect(response, [200], operation)
            let start = location.key("")
            for upload in xml?.all("Upload") ?? [] {
                guard let full = upload["Key"]?.text, full.hasPrefix(start), let id = upload["UploadId"]?.text else { continue }
                let key = String(full.dropFirst(start.count))
                let initiated = upload["Initiated"].flatMap { Self.iso8601($0.text) } ?? .distantPast
                uploads.append(IncompleteUpload(key: key, uploadID: id, initiated: initiated))
            }
            guard xml?["IsTruncated"]?.text == "true", let key = xml?["NextKeyMarker"]?.text,
                  let id = xml?["NextUploadIdMarker"]?.text else { break }
            markers = [("key-marker", key), ("upload-id-marker", id)]
        }
        return uploads
    }

    /// An object as a listing shows it.
    public struct ListedObject: Sendable, Equatable {
        /// The key below the location's prefix.
        public let key: String
        public let size: Int64
        public let lastModified: Date
    }

    /// The objects whose keys (below the location's prefix) start with `under`, in key
    /// order (ListObjectsV2, a thousand a page, at most a million).
    public func listObjects(under: String = "") async throws -> [ListedObject] {
        var objects: [ListedObject] = []
        var continuation: [(String, String)] = []
        let start = location.key("")
        for _ in 0..<1000 {
            let operation = "list the objects of \(location.bucket)"
            let query = [("list-type", "2"), ("prefix", location.key(under))] + continuation
            let xml = try await expect(try await send(.GET, nil, query: query, operation: operation), [200], operation)
            for object in xml?.all("Contents") ?? [] {
                guard let full = object["Key"]?.text, full.hasPrefix(start) else { continue }
                objects.append(ListedObject(key: String(full.dropFirst(start.count)), size: Int64(object["Size"]?.text ?? "") ?? 0,
                                            lastModified: object["LastModified"].flatMap { Self.iso8601($0.text) } ?? .distantPast))
            }
            guard xml?["IsTruncated"]?.text == "true", let token = xml?["NextContinuationToken"]?.text else { break }
            continuation = [("continuation-token", token)]
        }
        return objects
    }

    /// Aborts the incomplete uploads under the prefix that started more than `age` before
    /// `now` (a publish that died mid-upload leaves one); returns how many.
    @discardableResult
    public func abortIncompleteUploads(olderThan age: Duration, now: Date = Date()) async throws -> Int {
        let cutoff = now.addingTimeInterval(-Double(age.components.seconds))
        var aborted = 0
        for upload in try await incompleteUploads() where upload.initiated < cutoff {
            try await abortMultipartUpload(upload.key, uploadID: upload.uploadID)
            aborted += 1
        }
        return aborted
    }

    // MARK: Requests

    /// Sends one signed request for `key` (nil: the bucket) and returns the answer unread.
    func send(_ method: HTTPMethod, _ key: String?, query: [(String, String)] = [], headers: [(String, String)] = [],
              body: ByteBuffer? = nil, operation: String) async throws -> HTTPClientResponse {
        let path = "/" + SignatureV4.uriEncode(location.bucket)
            + (key.map { "/" + SignatureV4.uriEncode(location.key($0), keepSlash: true) } ?? "")
        guard let endpoint = URLComponents(string: location.endpoint), let host = endpoint.host else {
            throw S3Error(operation: operation, status: 0, code: "BadEndpoint", message: "bad endpoint \(location.endpoint)")
        }
        let hostHeader = host + (endpoint.port.map { ":\($0)" } ?? "")
        let payload = body.map { bytes in SignatureV4.hex(bytes.withUnsafeReadableBytes { SHA256.hash(data: $0) }) }
            ?? SignatureV4.emptyPayload
        var all = headers + [("host", hostHeader)]
        if let body { all.append(("content-length", String(body.readableBytes))) }
        let queryText = SignatureV4.canonicalQuery(query)
        var request = HTTPClientRequest(url: location.endpoint + path + (queryText.isEmpty ? "" : "?" + queryText))
        request.method = method
        all += signer.signedHeaders(method: method.rawValue, path: path, query: query, headers: all, payloadHash: payload,
                                    date: Date())
        for (name, value) in all where name != "host" { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(body) }
        do {
            return try await http.execute(request, timeout: .minutes(10))
        } catch {
            throw S3Error(operation: operation, status: 0, code: "Unreachable", message: "\(location.endpoint) could not be reached: \(error)")
        }
    }

    /// The answer's XML (nil when empty) if its status is one of `statuses`; else an `S3Error`.
    func expect(_ response: HTTPClientResponse, _ statuses: Set<Int>, _ operation: String) async throws -> S3XML? {
        let status = Int(response.status.code)
        let body = try await Self.body(of: response, operation)
        guard statuses.contains(status) else { throw S3Error.from(operation, status: status, body: body) }
        return body.isEmpty ? nil : S3XML.parse(body)
    }

    /// An answer's body (XML or nothing: at most 1 MiB is read).
    static func body(of response: HTTPClientResponse, _ operation: String) async throws -> [UInt8] {
        do { return Array(try await response.body.collect(upTo: 1024 * 1024).readableBytesView) } catch {
            throw S3Error(operation: operation, status: 0, code: "BrokenAnswer", message: "the answer broke off: \(error)")
        }
    }

    /// Runs `attempt` up to three times while it fails transiently, waiting 0.5 s, then 1 s.
    func retrying<T>(_ attempt: () async throws -> T) async throws -> T {
        var delay = Duration.milliseconds(500)
        for _ in 0..<2 {
            do { return try await attempt() } catch let error as S3Error where error.isTransient {
                try await Task.sleep(for: delay)
                delay = delay * 2
            }
        }
        return try await attempt()
    }

    static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func iso8601(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text) ?? ISO8601DateFormatter().date(from: text)
    }
}
