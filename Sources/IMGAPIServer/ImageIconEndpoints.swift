import HTTPTypes
import Hummingbird
import IMGAPI
import ImageStore
import NIOCore

extension Endpoints {
    /// `PUT /images/:uuid/icon` (AddImageIcon): a PNG, JPEG or GIF of at most 128 KiB; allowed
    /// on activated images too. Optional `sha1` must match.
    func addImageIcon(_ uuid: String, _ call: Call) async throws -> Response {
        try authenticator.authorizeWrite(call)
        let account = try account(call)
        let channel = try channel(call, forRead: false)
        let sha1 = try Self.hexParameter(call.query.value("sha1"), field: "sha1", length: 40)
        guard let contentType = call.request.headers[.contentType], ImageIcon.contentTypes.contains(contentType) else {
            throw IMGAPIError.upload("icon \"Content-Type\" must be one of \(ImageIcon.contentTypes.joined(separator: ", "))")
        }
        let tooLarge = IMGAPIError.upload("icon is larger than the maximum of \(ImageIcon.maximumSize) bytes")
        if let length = call.request.headers[.contentLength].flatMap(Int.init), length > ImageIcon.maximumSize { throw tooLarge }
        _ = try await visibleImage(uuid, account: account, channel: channel, mustOwn: true)
        var request = call.request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: ImageIcon.maximumSize)
        } catch is NIOTooManyBytesError {
            throw tooLarge
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw tooLarge
        } catch {
            throw IMGAPIError.upload("the icon upload ended before its last byte")
        }
        guard buffer.readableBytes > 0 else { throw IMGAPIError.upload("the icon is empty") }
        let icon = ImageIcon(contentType: contentType, bytes: Array(buffer.readableBytesView))
        if let sha1, sha1 != icon.sha1 {
            throw IMGAPIError.upload("\"sha1\" hash, \(sha1), does not match the uploaded icon sha1 hash, \(icon.sha1)")
        }
        return .json(view(try await repository.setIcon(uuid, icon), call), etag: true)
    }

    /// `GET|HEAD /images/:uuid/icon` (GetImageIcon), with `ETag` (sha1), `Content-MD5`,
    /// `Last-Modified` and conditional requests.
    func getImageIcon(_ uuid: String, _ call: Call) async throws -> Response {
        let account = try account(call), channel = try channel(call, forRead: true)
        let icon: ImageIcon
        do {
            _ = try await visibleImage(uuid, account: account, channel: channel)
            guard let stored = try await repository.catalog.icon(uuid) else {
                throw IMGAPIError.resourceNotFound("image \"\(uuid)\" has no icon")
            }
            icon = stored
        } catch let error as IMGAPIError where error.status == 404 && pullThrough != nil {
            icon = try await upstreamIcon(uuid, notHere: error, account: account, channel: channel)
        }
        var headers = HTTPFields()
        headers[.contentType] = icon.contentType
        headers[.eTag] = icon.sha1
        headers[.lastModified] = HTTPDate.format(milliseconds: icon.mtime)
        if try ConditionalRequest.evaluate(call.request.headers, etag: icon.sha1, lastModified: icon.mtime) == .notModified {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentMD5] = icon.contentMD5
        headers[.contentLength] = String(icon.bytes.count)
        let body = call.request.method == .head ? ResponseBody() : ResponseBody(byteBuffer: ByteBuffer(bytes: icon.bytes))
        return Response(status: .ok, headers: headers, body: body)
    }

    /// `DELETE /images/:uuid/icon` (DeleteImageIcon): 404 when there is no icon (the reference crashes).
    func deleteImageIcon(_ uuid: String, _ call: Call) async throws -> Response {
        try authenticator.authorizeWrite(call)
        _ = try await visibleImage(uuid, account: try account(call), channel: try channel(call, forRead: false), mustOwn: true)
        return .json(view(try await repository.removeIcon(uuid), call), etag: true)
    }
}
