import HTTPTypes
import Hummingbird
import IMGAPI
import ImageStore
import Mirror
import NIOCore

/// ListImages, GetImage and GetImageFile with the pull-through cache (config `upstreams`):
/// the local catalog merged with the upstreams' (a local image shadows an upstream one of
/// the same uuid), and files of images only upstream filled on demand.
extension Endpoints {
    /// The generation cached answers are built for: the local catalog's, then the
    /// upstream view's (each below 2³²), so that any change to either moves it on.
    static func mergedGeneration(local: Int64, upstream: Int64) -> Int64 {
        local << 32 | (upstream & 0xFFFF_FFFF)
    }

    /// The images that match in both catalogs, in order: `limit` and the marker apply to
    /// the merged list. `records`: the records' JSON text instead of the API views.
    static func mergedListing(_ query: ListImagesQuery, authenticated: Bool, records: Bool, local: Catalog,
                              upstream: Catalog) async throws -> [Catalog.PlacedItem] {
        var query = query
        if case .image(let uuid)? = query.marker {
            // The marker's place, from whichever catalog has it, applies to both.
            var found = try await local.publishedMs(of: uuid)
            if found == nil { found = try await upstream.publishedMs(of: uuid) }
            guard let ms = found else { throw IMGAPIError.imageNotFound(uuid) }
            query.marker = .position(milliseconds: ms, uuid: uuid)
        }
        var everyUpstream = query
        everyUpstream.limit = nil
        let localQuery = query
        async let here = local.listPlaced(localQuery, authenticated: authenticated, records: records)
        let offered = try await upstream.listPlaced(everyUpstream, authenticated: authenticated, records: records)
        let shadowed = try await local.present(offered.map(\.uuid))
        var merged = try await here + offered.filter { !shadowed.contains($0.uuid) }
        merged.sort { a, b in
            query.descending ? (a.publishedMs, a.uuid) > (b.publishedMs, b.uuid) : (a.publishedMs, a.uuid) < (b.publishedMs, b.uuid)
        }
        if let limit = query.limit, merged.count > limit { merged.removeLast(merged.count - limit) }
        return merged
    }

    /// `Upstream-Stale` fields, one for each upstream whose catalog could not be fetched
    /// again: the listing holds its last good catalog (or none of its images).
    static func staleHeaders(_ view: PullThroughCatalog.View) -> HTTPFields {
        var fields = HTTPFields()
        for note in view.stale { fields.append(HTTPField(name: .upstreamStale, value: note)) }
        return fields
    }

    /// An image only upstream, as GetImage shows it; nil when no upstream has it or a local
    /// image has the uuid.
    func upstreamImage(_ uuid: String, in view: PullThroughCatalog.View) async throws -> StoredImage? {
        guard try await repository.catalog.image(uuid) == nil else { return nil }
        return try await view.catalog.image(uuid)
    }

    /// GetImageFile of an image only upstream: its file as it arrives from the one fill
    /// for it, then from the store. HEAD answers from the upstream manifest, filling nothing.
    func upstreamImageFile(_ uuid: String, notHere: any Error, account: String?, channel: ChannelSelection,
                           _ call: Call) async throws -> Response {
        guard let pullThrough else { throw notHere }
        let view = try await pullThrough.catalog.view()
        guard let image = try await upstreamImage(uuid, in: view) else { throw notHere }
        try checkVisible(image, account: account, channel: channel)
        let index = call.query.value("index").flatMap(Int.init) ?? 0
        guard index == 0, let file = image.record["files"]?.arrayValue?.first?.objectValue,
              let sha1 = file["sha1"]?.stringValue, let size = file["size"]?.intValue.map(Int64.init) else {
            throw IMGAPIError.resourceNotFound("image \"\(uuid)\" has no file at index \(index)")
        }
        let status: HTTPResponse.Status, range: Range<Int64>
        var fields: HTTPFields
        switch try fileResponseHead(call.request.headers, etag: sha1, size: size, lastModified: nil, contentMD5: nil) {
        case .answered(let response): return response
        case .send(let s, let r, let f): (status, range, fields) = (s, r, f)
        }
        fields.append(contentsOf: Self.staleHeaders(view))
        if call.request.method == .head { return Response(status: status, headers: fields) }
        if settings.readOnly {
            throw IMGAPIError.serviceUnavailable("the server is read-only, so image \(uuid) cannot be fetched from its upstream: ask again when it is read-write")
        }
        metrics.cacheMisses.increment()
        switch try await pullThrough.fill(uuid, from: view) {
        case .stored:
            return try await getImageFile(uuid, call)
        case .filling(let reader):
            try await reader.started()
            let body = ResponseBody(contentLength: Int(range.count)) { writer in
                try await reader.read(range) { try await writer.write($0) }
                try await writer.finish(nil)
            }
            return Response(status: status, headers: fields, body: body)
        }
    }
}

extension Endpoints {
    /// GetImageIcon of an image only upstream: the upstream's icon, passed through (it is
    /// stored with the image when its file is fetched).
    func upstreamIcon(_ uuid: String, notHere: any Error, account: String?, channel: ChannelSelection) async throws -> ImageIcon {
        guard let pullThrough else { throw notHere }
        let view = try await pullThrough.catalog.view()
        guard let image = try await upstreamImage(uuid, in: view) else { throw notHere }
        try checkVisible(image, account: account, channel: channel)
        guard image.record["icon"] == .bool(true) else { throw IMGAPIError.resourceNotFound("image \"\(uuid)\" has no icon") }
        return try await pullThrough.icon(uuid, from: view)
    }
}

extension HTTPField.Name {
    /// Names an upstream whose catalog could not be fetched, why, and how old the listing of it is.
    static let upstreamStale = HTTPField.Name("Upstream-Stale")!
}
