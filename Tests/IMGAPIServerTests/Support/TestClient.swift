import AsyncHTTPClient
import Crypto
import Foundation
import HTTPSignature
import IMGAPI
import NIOCore
import NIOHTTP1
import XCTest

/// A response as the tests inspect it.
struct HTTPResult {
    var status: Int
    var headers: HTTPHeaders
    var body: [UInt8]

    var text: String { String(decoding: body, as: UTF8.self) }

    /// The body as JSON (fails the caller's expectations with a clear message when it is not).
    func json() throws -> JSONValue { try JSONValue.parse(body) }

    func object() throws -> JSONObject {
        guard let object = try json().objectValue else { throw TestFailure("body is not a JSON object: \(text)") }
        return object
    }

    /// `code` of an IMGAPI error body.
    var errorCode: String? { (try? object())?["code"]?.stringValue }

    func header(_ name: String) -> String? { headers.first(name: name) }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A real HTTP client speaking to the server under test, optionally signing like the node clients.
struct TestClient {
    var baseURL: String
    var signer: RequestSigner?
    /// Sign only the Date header (as the reference's node clients do).
    var signsDateOnly = false
    /// The `Date` to send and sign (default: now).
    var date: Date?
    /// Headers imgadm sends on every request.
    var defaultHeaders: [(String, String)] = [("Accept", "application/json")]

    static let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(
        timeout: .init(connect: .seconds(10), read: .seconds(60)), decompression: .disabled))

    init(_ server: ServerProcess, signer: RequestSigner? = nil) {
        baseURL = server.baseURL
        self.signer = signer
    }

    func request(_ method: HTTPMethod, _ path: String, headers: [(String, String)] = [],
                 body: [UInt8]? = nil, streamedBody: HTTPClientRequest.Body? = nil) async throws -> HTTPResult {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        for (k, v) in defaultHeaders + headers { request.headers.add(name: k, value: v) }
        let date = RequestSigner.httpDate(self.date ?? Date())
        request.headers.replaceOrAdd(name: "Date", value: date)
        if let signer {
            // As imgapid's own client signs: every signature is new. Date alone, as the node clients sign, with `signsDateOnly`.
            let requestID = UUID().uuidString.lowercased()
            if !signsDateOnly { request.headers.replaceOrAdd(name: "x-request-id", value: requestID) }
            request.headers.replaceOrAdd(name: "Authorization", value: try signer.authorization(
                date: date, method: method.rawValue, path: path, extraHeaders: signsDateOnly ? [] : [("x-request-id", requestID)],
                signRequestTarget: !signsDateOnly))
        }
        if let body { request.body = .bytes(body) } else if let streamedBody { request.body = streamedBody }
        let response = try await Self.http.execute(request, timeout: .seconds(120))
        var bytes: [UInt8] = []
        for try await chunk in response.body { bytes += chunk.readableBytesView }
        return HTTPResult(status: Int(response.status.code), headers: response.headers, body: bytes)
    }

    func get(_ path: String, headers: [(String, String)] = []) async throws -> HTTPResult {
        try await request(.GET, path, headers: headers)
    }

    /// A JSON body with `Content-MD5`, as the node client sends it.
    func postJSON(_ path: String, _ json: String, method: HTTPMethod = .POST) async throws -> HTTPResult {
        let bytes = Array(json.utf8)
        let md5 = Data(Insecure.MD5.hash(data: bytes)).base64EncodedString()
        return try await request(method, path, headers: [("Content-Type", "application/json"), ("Content-MD5", md5)], body: bytes)
    }

    /// The file upload exactly as stock imgadm sends it: raw bytes labelled `application/json`.
    func putFile(_ uuid: String, _ bytes: [UInt8], query: String) async throws -> HTTPResult {
        try await request(.PUT, "/images/\(uuid)/file?\(query)",
                          headers: [("Content-Type", "application/json"), ("Content-Length", String(bytes.count))],
                          body: bytes)
    }
}

extension TestClient {
    /// Publishes an image as `imgadm publish` does (import, file, activate) and returns the
    /// activated manifest. `extra` adds manifest fields (JSON members without braces).
    @discardableResult
    func publish(_ uuid: String, name: String = "test-image", version: String = "1.0.0", os: String = "smartos",
                 type: String = "zone-dataset", extra: String = "",
                 file: [UInt8] = Fixture.bytes(1024)) async throws -> JSONObject {
        let manifest = Fixture.manifest(uuid: uuid, name: name, version: version, os: os, type: type, extra: extra)
        let imported = try await postJSON("/images/\(uuid)?action=import", manifest)
        guard imported.status == 200 else { throw TestFailure("import \(uuid): \(imported.status) \(imported.text)") }
        let added = try await putFile(uuid, file, query: "compression=gzip")
        guard added.status == 200 else { throw TestFailure("file \(uuid): \(added.status) \(added.text)") }
        let activated = try await postJSON("/images/\(uuid)?action=activate", "{}")
        guard activated.status == 200 else { throw TestFailure("activate \(uuid): \(activated.status) \(activated.text)") }
        return try activated.object()
    }
}

/// Test data helpers.
enum Fixture {
    static var root: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fixtures")
    }

    static func manifest(_ name: String) throws -> String {
        try String(contentsOf: root.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("manifests/\(name)"), encoding: .utf8)
    }

    static let manifestNames = ["centos-6-20161006.json", "pkgbuild-18.1.0.json", "ubuntu-16.04-20160601.json"]

    /// Deterministic pseudo-random bytes (incompressible, reproducible).
    static func bytes(_ count: Int, seed: UInt64 = 1) -> [UInt8] {
        var state = seed &* 0x9E3779B97F4A7C15 | 1
        return (0..<count).map { _ in
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return UInt8(truncatingIfNeeded: state)
        }
    }

    static func sha1(_ bytes: [UInt8]) -> String {
        Insecure.SHA1.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }

    static func sha256(_ bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }

    static func md5Base64(_ bytes: [UInt8]) -> String {
        Data(Insecure.MD5.hash(data: bytes)).base64EncodedString()
    }

    /// A minimal valid manifest for AdminImportImage.
    static func manifest(uuid: String, name: String = "test-image", version: String = "1.0.0",
                         os: String = "smartos", type: String = "zone-dataset", extra: String = "") -> String {
        """
        {"v": 2, "uuid": "\(uuid)", "owner": "00000000-0000-0000-0000-000000000000", "name": "\(name)",
         "version": "\(version)", "type": "\(type)", "os": "\(os)", "public": true\(extra.isEmpty ? "" : ", " + extra)}
        """
    }
}

/// Asserts a status, showing the body when it differs (XCTest assertions cannot await).
func expect(_ result: HTTPResult, status: Int, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(result.status, status, result.text, file: file, line: line)
}
