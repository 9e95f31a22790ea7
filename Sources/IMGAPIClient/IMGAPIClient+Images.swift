import AsyncHTTPClient
import IMGAPI
import NIOCore
import NIOHTTP1

extension IMGAPIClient {
    /// `GET /ping`: fails unless the server answers 200 JSON with a truthy `imgapi`, as imgadm requires.
    public func ping() async throws -> JSONObject {
        let body = try await json(.GET, "/ping")
        guard let object = body.objectValue, object["imgapi"]?.isTruthy == true else {
            throw IMGAPIClientError.notIMGAPI(baseURL, "/ping has no \"imgapi\": true")
        }
        return object
    }

    /// `GET /images/:uuid`; nil when the server has no such image (404).
    public func image(_ uuid: String) async throws -> JSONObject? {
        do {
            guard let object = try await json(.GET, "/images/\(uuid)").objectValue else {
                throw IMGAPIClientError.notIMGAPI(baseURL, "GET /images/\(uuid) is not a JSON object")
            }
            return object
        } catch IMGAPIClientError.server(404, _, _) {
            return nil
        }
    }

    /// `GET /images` with `query` (already encoded `k=v` pairs), paged exactly as imgadm
    /// pages: only when a reply holds 1000 or more images, with `limit=1000&marker=<last uuid>`;
    /// a page's first image is dropped when it is the marker (markers are inclusive), paging
    /// stops when a page makes no progress, and an image seen twice is kept once. A catalog
    /// of more than `maxImages` images is refused.
    public func listImages(query: [String] = [], maxImages: Int = 1_000_000) async throws -> [JSONObject] {
        let pageSize = 1000
        var page = try await listPage(query)
        var images = page
        var seen = Set(page.compactMap { $0["uuid"]?.stringValue })
        while page.count >= pageSize, let marker = page.last?["uuid"]?.stringValue {
            guard images.count <= maxImages else {
                throw IMGAPIClientError.notIMGAPI(baseURL, "its catalog has more than \(maxImages) images")
            }
            page = try await listPage(query + ["limit=\(pageSize)", "marker=\(marker)"])
            if page.last?["uuid"]?.stringValue == marker { break }
            for image in page where seen.insert(image["uuid"]?.stringValue ?? "").inserted { images.append(image) }
        }
        return images
    }

    private func listPage(_ query: [String]) async throws -> [JSONObject] {
        let path = "/images" + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
        guard let items = try await json(.GET, path).arrayValue else {
            throw IMGAPIClientError.notIMGAPI(baseURL, "GET \(path) is not a JSON array")
        }
        return items.compactMap(\.objectValue)
    }

    /// `GET /images/:uuid/file`, from byte `offset` on (a `Range` request when > 0).
    /// The caller reads and verifies the body; `partial` says whether the range was honoured.
    public func downloadFile(_ uuid: String, from offset: Int64 = 0) async throws -> (response: StreamedResponse, partial: Bool) {
        let headers = offset > 0 ? [("Range", "bytes=\(offset)-")] : []
        let response = try await send(.GET, "/images/\(uuid)/file", headers: headers)
        switch response.status {
        case 200: return (response, false)
        case 206 where offset > 0:
            // Only a range that starts where the kept bytes end continues them.
            guard response.headers.first(name: "Content-Range")?.hasPrefix("bytes \(offset)-") == true else {
                throw IMGAPIClientError.notIMGAPI(baseURL, "a Range request from byte \(offset) was answered with another range")
            }
            return (response, true)
        default:
            let bytes = try? await response.body.collect(upTo: 1024 * 1024)
            let body = bytes.flatMap { try? JSONValue.parse(Array($0.readableBytesView)) }
            throw IMGAPIClientError.server(status: response.status, url: baseURL + "/images/\(uuid)/file", body: body)
        }
    }

    // MARK: Publishing

    /// AdminImportImage: `POST /images/:uuid?action=import` with the manifest.
    public func importImage(_ manifest: JSONObject) async throws -> JSONObject {
        let uuid = manifest["uuid"]?.stringValue ?? ""
        return try await object(.POST, "/images/\(uuid)?action=import", body: .object(manifest))
    }

    /// AddImageFile: streams `body` (its length when known) and returns the image the server answers.
    public func addFile(_ uuid: String, compression: String, sha1: String? = nil, datasetGUID: String? = nil,
                        body: HTTPClientRequest.Body) async throws -> JSONObject {
        var query = "compression=\(compression)"
        if let sha1 { query += "&sha1=\(sha1)" }
        if let datasetGUID { query += "&dataset_guid=\(datasetGUID)" }
        let response = try await send(.PUT, "/images/\(uuid)/file?\(query)",
                                      headers: [("Content-Type", "application/octet-stream")], body: body)
        let bytes = try await response.body.collect(upTo: 16 * 1024 * 1024)
        let parsed = try? JSONValue.parse(Array(bytes.readableBytesView))
        guard response.status < 400 else {
            throw IMGAPIClientError.server(status: response.status, url: baseURL + "/images/\(uuid)/file", body: parsed)
        }
        guard let object = parsed?.objectValue else { throw IMGAPIClientError.notIMGAPI(baseURL, "AddImageFile answer is not JSON") }
        return object
    }

    /// Asks, changing nothing, whether this client may write: imgapid and the reference server
    /// authenticate `POST /images/:uuid` before they refuse it for its missing `action`.
    /// Throws the server's 401 or 403 when writes are not allowed.
    public func checkWriteAccess(_ uuid: String) async throws {
        let response = try await send(.POST, "/images/\(uuid)")
        let bytes = try? await response.body.collect(upTo: 1024 * 1024)
        guard response.status == 401 || response.status == 403 else { return }
        let body = bytes.flatMap { try? JSONValue.parse(Array($0.readableBytesView)) }
        throw IMGAPIClientError.server(status: response.status, url: baseURL + "/images/\(uuid)", body: body)
    }

    /// ActivateImage.
    public func activate(_ uuid: String) async throws -> JSONObject {
        try await object(.POST, "/images/\(uuid)?action=activate")
    }

    /// DeleteImage (204).
    public func delete(_ uuid: String) async throws {
        let response = try await send(.DELETE, "/images/\(uuid)")
        let bytes = try? await response.body.collect(upTo: 1024 * 1024)
        guard response.status < 400 else {
            let body = bytes.flatMap { try? JSONValue.parse(Array($0.readableBytesView)) }
            throw IMGAPIClientError.server(status: response.status, url: baseURL + "/images/\(uuid)", body: body)
        }
    }

    private func object(_ method: HTTPMethod, _ path: String, body: JSONValue? = nil) async throws -> JSONObject {
        guard let object = try await json(method, path, body: body).objectValue else {
            throw IMGAPIClientError.notIMGAPI(baseURL, "\(method.rawValue) \(path) is not a JSON object")
        }
        return object
    }
}
