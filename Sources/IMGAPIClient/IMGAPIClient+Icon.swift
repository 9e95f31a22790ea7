import IMGAPI
import NIOCore

extension IMGAPIClient {
    /// `GET /images/:uuid/icon`: the icon's `Content-Type` and bytes; a body over `limit`
    /// bytes is refused.
    public func icon(_ uuid: String, limit: Int) async throws -> (contentType: String, bytes: [UInt8]) {
        let url = baseURL + "/images/\(uuid)/icon"
        let response = try await send(.GET, "/images/\(uuid)/icon", headers: [("Accept", "*/*")])
        guard response.status == 200 else {
            _ = try? await response.body.collect(upTo: 1024 * 1024)
            throw IMGAPIClientError.server(status: response.status, url: url, body: nil)
        }
        let bytes: ByteBuffer
        do { bytes = try await response.body.collect(upTo: limit) } catch {
            throw IMGAPIClientError.notIMGAPI(baseURL, "the icon of \(uuid) is larger than \(limit) bytes")
        }
        return (response.headers.first(name: "Content-Type") ?? "", Array(bytes.readableBytesView))
    }

    /// AddImageIcon: `PUT /images/:uuid/icon` with the icon's bytes.
    public func setIcon(_ uuid: String, contentType: String, bytes: [UInt8]) async throws {
        let response = try await send(.PUT, "/images/\(uuid)/icon", headers: [("Content-Type", contentType)],
                                      body: .bytes(ByteBuffer(bytes: bytes)))
        let answer = try? await response.body.collect(upTo: 1024 * 1024)
        guard response.status < 400 else {
            let body = answer.flatMap { try? JSONValue.parse(Array($0.readableBytesView)) }
            throw IMGAPIClientError.server(status: response.status, url: baseURL + "/images/\(uuid)/icon", body: body)
        }
    }
}
