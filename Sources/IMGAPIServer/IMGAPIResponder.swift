import Foundation
import HTTPTypes
import Hummingbird
import IMGAPI
import ImageStore
import Logging
import NIOCore

/// Dispatches each request to its endpoint, turns every failure into an IMGAPI JSON
/// error, and adds the headers the reference sends on every response (the access log is
/// written by `AccessLogHandler`; Hummingbird adds `Date`).
struct IMGAPIResponder: HTTPResponder {
    let endpoints: Endpoints
    let hostName = ProcessInfo.processInfo.hostName

    func respond(to request: Request, context: IMGAPIRequestContext) async throws -> Response {
        let started = ContinuousClock.now
        let requestID = Self.requestID(request)
        var failure: String?
        var response: Response
        do {
            response = try await dispatch(request, context: context)
        } catch let error as IMGAPIError {
            response = .error(error)
            failure = error.description
        } catch let error as UndecodableRecord {
            Endpoints.logUndecodable(error.uuid)
            response = .error(.internalError(error.description))
            failure = error.description
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(error)", "req_id": "\(requestID)"])
            response = .error(.internalError())
            failure = String(describing: error)
        }
        if (response.status.code >= 400 && Self.hasBody(request.headers)) || request.method == .connect {
            // Its body may not have been read, and reading it only to discard it could take
            // hours: close the connection after this answer instead. An answer to CONNECT
            // carries no length (it would open a tunnel), so only the close can end it.
            response.headers[.connection] = "close"
        }
        finish(&response.headers, requestID: requestID, started: started)
        if let failure { response.headers[.logError] = failure }
        return response
    }

    /// The answer to `head` when it is a read whose answer is already in memory: `/ping`,
    /// and GetImage or ListImages answers in the response cache, for an anonymous caller.
    /// Made on the event loop without a task (`MemoryAnswerHandler`), by the same endpoint
    /// code; nil for every other request, and for any that would fail or need a body,
    /// which then take the ordinary path.
    func answerFromMemory(_ head: HTTPRequest, remote: SocketAddress?) -> BufferedAnswer? {
        let started = ContinuousClock.now
        guard head.method == .get, !Self.hasBody(head.headerFields), head.headerFields[.connection] == nil else { return nil }
        let request = Request(head: head, body: RequestBody(buffer: ByteBuffer()))
        guard endpoints.authenticator.isAnonymous(request),
              let route = Route(path: request.uri.path), route.allowedMethods.contains(.get),
              let version = try? negotiatedVersion(request),
              let query = try? QueryString.pairs(request.uri.query) else { return nil }
        let call = Call(request: request, query: query, remote: remote, version: version, caller: .anonymous)
        let found: BufferedAnswer?
        switch route {
        case .ping: found = endpoints.ping(call)
        case .image(let uuid): found = try? endpoints.cachedImage(uuid, call)
        case .images: found = try? endpoints.cachedListing(call)
        default: found = nil
        }
        guard var answer = found, answer.status == .ok else { return nil }
        endpoints.metrics.memoryAnswers.increment()
        finish(&answer.headers, requestID: Self.requestID(request), started: started)
        return answer
    }

    /// The reference's headers on every answer.
    private func finish(_ headers: inout HTTPFields, requestID: String, started: ContinuousClock.Instant) {
        let elapsed = started.duration(to: .now)
        let milliseconds = Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
        headers[.server] = endpoints.configuration.serverName
        headers[.xRequestID] = requestID
        headers[.xResponseTime] = String(milliseconds)
        headers[.xServerName] = hostName
    }

    /// The client's request id, or a new one.
    private static func requestID(_ request: Request) -> String {
        request.headers[.xRequestID] ?? request.headers[.requestID] ?? RequestID.next()
    }

    static func hasBody(_ headers: HTTPFields) -> Bool {
        headers[.transferEncoding] != nil || (headers[.contentLength].flatMap(Int64.init) ?? 0) > 0
    }

    private func negotiatedVersion(_ request: Request) throws -> APIVersion {
        try APIVersion.negotiate(request.headers[.acceptVersion] ?? request.headers[.xAPIVersion],
                                 method: request.method.rawValue, path: request.uri.path)
    }

    private func dispatch(_ request: Request, context: IMGAPIRequestContext) async throws -> Response {
        guard let route = Route(path: request.uri.path) else {
            throw IMGAPIError.resourceNotFound("\(request.uri.path) does not exist")
        }
        guard route.allowedMethods.contains(request.method) else {
            var response = Response.error(.methodNotAllowed(request.method.rawValue))
            response.headers[.allow] = route.allowedMethods.map(\.rawValue).joined(separator: ", ")
            return response
        }
        let version = try negotiatedVersion(request)
        if endpoints.settings.readOnly, Authenticator.isWrite(request.method), route != .state {
            throw IMGAPIError.serviceUnavailable(
                "the server is read-only: reads work, writes are refused until an operator turns read-only mode off "
                    + "(readOnly in the config file and SIGHUP, or POST /state?action=read-write)")
        }
        let call = Call(request: request, query: try QueryString.pairs(request.uri.query), remote: context.remoteAddress,
                        version: version, caller: try await endpoints.authenticator.caller(of: request))
        switch (route, request.method) {
        case (.ping, _): return endpoints.ping(call).response
        case (.channels, _): return try endpoints.listChannels()
        case (.images, .post): return try await endpoints.createImage(call)
        case (.images, _): return try await endpoints.listImages(call)
        case (.image(let uuid), .post): return try await endpoints.imageAction(uuid, call)
        case (.image(let uuid), .delete): return try await endpoints.deleteImage(uuid, call)
        case (.image(let uuid), _): return try await endpoints.getImage(uuid, call)
        case (.imageFile(let uuid), .put): return try await endpoints.addImageFile(uuid, call)
        case (.imageFile(let uuid), _): return try await endpoints.getImageFile(uuid, call)
        case (.job(let uuid), _): return try await endpoints.getJob(uuid)
        case (.metrics, _):
            guard endpoints.configuration.metricsAddress == nil else {
                throw IMGAPIError.resourceNotFound("/metrics is served on a listener of its own here (metricsAddress)")
            }
            return try await endpoints.metricsExposition()
        case (.ready, _): return await endpoints.readiness()
        case (.state, .post): return try await endpoints.updateState(call)
        case (.state, _): return try await endpoints.state(call)
        case (.root, _): return try endpoints.root(call)
        case (.catalog, _): return try await endpoints.catalogPage(call)
        case (.catalogImage(let uuid), _): return try await endpoints.imagePage(uuid, call)
        case (.imageAcl(let uuid), _): return try await endpoints.changeAcl(uuid, call)
        case (.imageIcon(let uuid), .put): return try await endpoints.addImageIcon(uuid, call)
        case (.imageIcon(let uuid), .delete): return try await endpoints.deleteImageIcon(uuid, call)
        case (.imageIcon(let uuid), _): return try await endpoints.getImageIcon(uuid, call)
        }
    }
}

/// One request as the endpoints see it.
struct Call: Sendable {
    let request: Request
    /// Query pairs in order, decoded.
    let query: [(String, String)]
    let remote: SocketAddress?
    /// From `Accept-Version`: decides whether `channels` is shown.
    let version: APIVersion
    /// Who signed the request, if anyone.
    let caller: Caller
}

extension HTTPField.Name {
    static let xRequestID = HTTPField.Name("x-request-id")!
    static let requestID = HTTPField.Name("request-id")!
    static let xResponseTime = HTTPField.Name("x-response-time")!
    static let xServerName = HTTPField.Name("x-server-name")!
    static let contentMD5 = HTTPField.Name("Content-MD5")!
    static let acceptVersion = HTTPField.Name("Accept-Version")!
    static let xAPIVersion = HTTPField.Name("x-api-version")!
    static let contentSecurityPolicy = HTTPField.Name("Content-Security-Policy")!
    static let xContentTypeOptions = HTTPField.Name("X-Content-Type-Options")!
}
