import AsyncHTTPClient
import Foundation
import HTTPSignature
import IMGAPI
import NIOCore
import NIOHTTP1

/// Talks to any IMGAPI server (imgapid, sdc-imgapi, images.smartos.org) as the node
/// client does: JSON in and out, `Accept-Version`, optional HTTP Signature, and a
/// `?channel=` taken from the source URL added to every call.
public struct IMGAPIClient: Sendable {
    /// The server's base URL without a trailing `/` or query (`http://host:port[/base]`).
    public let baseURL: String
    /// `channel` from the source URL, sent with every request.
    public let channel: String?
    public let signer: RequestSigner?
    public let userAgent: String
    let http: HTTPClient

    /// Shared HTTP client: redirects not followed (a mirror must not be sent elsewhere silently),
    /// no automatic decompression (image files are compressed on purpose), a refused
    /// connection reported at once (callers retry with their own backoff), and an answer
    /// that sends no byte for 300 s given up.
    public static let sharedHTTPClient: HTTPClient = {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .seconds(15), read: .seconds(300)),
            decompression: .disabled)
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    /// `url` is a source URL as operators write it, optionally with `?channel=NAME`.
    public init(url: String, signer: RequestSigner? = nil, userAgent: String = "imgapid",
                http: HTTPClient = IMGAPIClient.sharedHTTPClient) throws(IMGAPIClientError) {
        guard var components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
              scheme == "http" || scheme == "https", components.host?.isEmpty == false else {
            throw .invalidURL(url)
        }
        channel = components.queryItems?.first { $0.name == "channel" }?.value
        components.query = nil
        components.fragment = nil
        var base = components.string ?? url
        while base.hasSuffix("/") { base.removeLast() }
        baseURL = base
        self.signer = signer
        self.userAgent = userAgent
        self.http = http
    }

    /// The same server read in `channel` instead (`"*"`: every channel).
    public func inChannel(_ channel: String?) -> IMGAPIClient {
        IMGAPIClient(baseURL: baseURL, channel: channel, signer: signer, userAgent: userAgent, http: http)
    }

    private init(baseURL: String, channel: String?, signer: RequestSigner?, userAgent: String, http: HTTPClient) {
        self.baseURL = baseURL
        self.channel = channel
        self.signer = signer
        self.userAgent = userAgent
        self.http = http
    }

    /// A response whose body has not been read yet.
    public struct StreamedResponse: Sendable {
        public let status: Int
        public let headers: HTTPHeaders
        public let body: HTTPClientResponse.Body
    }

    /// Sends one request; `path` starts with `/` and may carry a query (the channel is appended).
    /// Without a `timeout` a transfer takes as long as its bytes keep moving: a file upload
    /// or download of any size on any link.
    public func send(_ method: HTTPMethod, _ path: String, headers extra: [(String, String)] = [],
                     body: HTTPClientRequest.Body? = nil, timeout: TimeAmount? = nil) async throws -> StreamedResponse {
        let target = pathWithChannel(path)
        var request = HTTPClientRequest(url: baseURL + target)
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "Accept-Version", value: "~2")
        request.headers.add(name: "User-Agent", value: userAgent)
        let date = RequestSigner.httpDate(Date())
        request.headers.add(name: "Date", value: date)
        if let signer {
            // Signed with the request target, the host and a request id of its own, the
            // signature authorises this request only and is never the same twice (servers
            // refuse a signature they have seen).
            let url = URLComponents(string: baseURL)
            let name = url?.host ?? ""
            let host = (name.contains(":") ? "[\(name)]" : name) + (url?.port.map { ":\($0)" } ?? "")
            let requestID = UUID().uuidString.lowercased()
            request.headers.add(name: "Host", value: host)
            request.headers.add(name: "x-request-id", value: requestID)
            request.headers.add(name: "Authorization", value: try signer.authorization(
                date: date, method: method.rawValue, path: (url?.path ?? "") + target,
                extraHeaders: [("host", host), ("x-request-id", requestID)], signRequestTarget: true))
        }
        for (name, value) in extra { request.headers.replaceOrAdd(name: name, value: value) }
        if let body { request.body = body }
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, deadline: timeout.map { .now() + $0 } ?? .distantFuture)
        } catch {
            throw IMGAPIClientError.unreachable(baseURL, NetworkFailure.cause(error))
        }
        return StreamedResponse(status: Int(response.status.code), headers: response.headers, body: response.body)
    }

    /// Sends a request and reads a JSON reply (at most `limit` bytes); ≥400 becomes `IMGAPIClientError.server`.
    public func json(_ method: HTTPMethod, _ path: String, body: JSONValue? = nil,
                     limit: Int = 256 * 1024 * 1024) async throws -> JSONValue {
        var headers: [(String, String)] = []
        var requestBody: HTTPClientRequest.Body?
        if let body {
            let bytes = Array(body.compact().utf8)
            headers.append(("Content-Type", "application/json"))
            requestBody = .bytes(bytes)
        }
        let response = try await send(method, path, headers: headers, body: requestBody, timeout: .minutes(5))
        let bytes: ByteBuffer
        do {
            bytes = try await response.body.collect(upTo: limit)
        } catch {
            throw IMGAPIClientError.unreachable(baseURL, "reading \(path): \(NetworkFailure.cause(error))")
        }
        let parsed = try? JSONValue.parse(Array(bytes.readableBytesView))
        guard response.status < 400 else { throw IMGAPIClientError.server(status: response.status, url: baseURL + path, body: parsed) }
        guard let parsed else {
            throw IMGAPIClientError.notIMGAPI(baseURL, "\(method.rawValue) \(path) did not answer JSON")
        }
        return parsed
    }

    func pathWithChannel(_ path: String) -> String {
        guard let channel, let encoded = channel.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) else {
            return path
        }
        return path + (path.contains("?") ? "&" : "?") + "channel=" + encoded
    }
}
