import Foundation
import HTTPTypes
import Hummingbird
import IMGAPI
import ImageStore
import NIOCore

/// The web catalog: server-rendered pages for people with a browser (`CatalogTemplates`),
/// read from the same catalog queries as the API. No script; every value escaped.
extension Endpoints {
    static let catalogPageSize = 50
    /// How far up an origin chain the image page follows.
    static let originChainLimit = 32

    /// `GET /`: a browser (Accept: text/html) goes to the catalog; anything else gets a 404
    /// (the reference sends `/` to its static `/docs/`, which imgapid does not serve).
    func root(_ call: Call) throws -> Response {
        guard call.request.headers[.accept]?.contains("text/html") == true else {
            throw IMGAPIError.resourceNotFound("/ does not exist")
        }
        return Response(status: .found, headers: [.location: "/ui/"])
    }

    /// `GET /ui/`: images newest first, searched by name (a substring), filtered by os, type,
    /// channel and (for operators: signed, or in a trusted network) state, 50 to a page.
    func catalogPage(_ call: Call) async throws -> Response {
        let search = (call.query.value("name") ?? "").trimmingCharacters(in: .whitespaces)
        let os = call.query.value("os") ?? "", type = call.query.value("type") ?? ""
        let operatorView = call.caller.user != nil || authenticator.isTrusted(call)
        let state = operatorView ? (call.query.value("state") ?? "active") : "active"
        var pairs: [(String, String)] = [("state", state)]
        if !search.isEmpty { pairs.append(("name", "~" + search)) }
        if !os.isEmpty { pairs.append(("os", os)) }
        if !type.isEmpty { pairs.append(("type", type)) }
        var query = try ListImagesQuery(query: pairs)
        let selection = try channel(call, forRead: true)
        query.channel = selection.name
        query.descending = true
        let after = call.query.value("after").flatMap { ImageUUID.isValid($0) ? $0 : nil }
        if let after { query.marker = .image(after) }
        query.limit = Self.catalogPageSize + (after == nil ? 1 : 2)  // the marker itself, and one to know there is more
        let (listed, undecodable) = try await repository.catalog.listRecords(query, authenticated: operatorView)
        for uuid in undecodable { Self.logUndecodable(uuid) }
        var records = listed
        if let after, records.first?["uuid"]?.stringValue == after { records.removeFirst() }
        let more = records.count > Self.catalogPageSize
        records = Array(records.prefix(Self.catalogPageSize))

        var filters: [(String, String)] = []
        for (key, value) in [("name", search), ("os", os), ("type", type)] where !value.isEmpty { filters.append((key, value)) }
        if let channel = call.query.value("channel") { filters.append(("channel", channel)) }
        if operatorView, state != "active" { filters.append(("state", state)) }
        var context = pageContext(title: "Images", subtitle: "\(selection.name.map { "channel \($0), " } ?? "")newest first")
        context["search"] = ["name": search]
        context["images"] = records.map(Self.listRow)
        context["hasImages"] = !records.isEmpty
        context["osOptions"] = Self.options(["smartos", "linux", "windows", "bsd", "illumos", "other"], selected: os, any: "any os")
        context["typeOptions"] = Self.options(["zone-dataset", "lx-dataset", "zvol", "docker", "other"], selected: type, any: "any type")
        context["hasChannels"] = !configuration.channels.isEmpty
        context["channelOptions"] = configuration.channels.map { channel in
            ["value": channel.name, "label": "channel \(channel.name)", "selected": channel.name == selection.name]
        } + [["value": "*", "label": "every channel", "selected": selection.name == nil]]
        context["showsStates"] = operatorView
        context["stateOptions"] = Self.options(["active", "disabled", "unactivated", "all"], selected: state, any: nil)
        if after != nil { context["firstPage"] = "/ui/" + Self.queryString(filters) }
        if more, let last = records.last?["uuid"]?.stringValue {
            context["nextPage"] = "/ui/" + Self.queryString(filters + [("after", last)])
        }
        return Self.html(CatalogTemplates.library.render(context, withTemplate: "list"))
    }

    /// `GET /ui/images/:uuid`: what people read of a manifest, its files, its origin chain
    /// as links, and the `imgadm import` command.
    func imagePage(_ uuid: String, _ call: Call) async throws -> Response {
        let image = try await visibleImage(uuid, account: nil, channel: try channel(call, forRead: true))
        let record = image.record
        var context = pageContext(title: "\(record["name"]?.stringValue ?? uuid) \(record["version"]?.stringValue ?? "")",
                                  subtitle: "image \(uuid)")
        for key in ["uuid", "name", "version", "description", "os", "type", "state", "owner", "homepage"] {
            if let text = record[key]?.stringValue { context[key] = text }
        }
        context["published"] = record["published_at"]?.stringValue.map(Self.day) ?? ""
        let tags = (record["tags"]?.objectValue ?? JSONObject()).map { ["key": $0.0, "value": $0.1.stringValue ?? $0.1.compact()] }
        context["tags"] = tags
        context["hasTags"] = !tags.isEmpty
        if let requirements = record["requirements"], requirements != .object(JSONObject()) {
            context["requirements"] = requirements.prettyPrinted()
        }
        context["files"] = (record["files"]?.arrayValue ?? []).compactMap(ImageFile.init).map { file in
            ["size": ByteSize.text(file.size), "compression": file.compression, "sha1": file.sha1, "sha256": file.sha256]
        }
        let origins = try await originChain(of: record)
        context["origins"] = origins
        context["hasOrigins"] = !origins.isEmpty
        context["hasIcon"] = try await repository.catalog.icon(uuid) != nil
        return Self.html(CatalogTemplates.library.render(context, withTemplate: "image"))
    }

    /// The image's origin, its origin's, and so on (nearest first), as links.
    private func originChain(of record: JSONObject) async throws -> [[String: Any]] {
        var chain: [[String: Any]] = []
        var next = record["origin"]?.stringValue
        while let uuid = next, chain.count < Self.originChainLimit {
            let origin = try await repository.catalog.image(uuid)
            let label = origin.map { "\($0.record["name"]?.stringValue ?? "") \($0.record["version"]?.stringValue ?? "")" } ?? uuid
            chain.append(["uuid": uuid, "label": label])
            next = origin?.record["origin"]?.stringValue
        }
        return chain
    }

    private func pageContext(title: String, subtitle: String) -> [String: Any] {
        ["title": "\(title) · \(configuration.serverName)", "serverName": configuration.serverName, "subtitle": subtitle]
    }

    private static func listRow(_ record: JSONObject) -> [String: Any] {
        let description = record["description"]?.stringValue ?? ""
        return [
            "uuid": record["uuid"]?.stringValue ?? "", "name": record["name"]?.stringValue ?? "",
            "version": record["version"]?.stringValue ?? "", "os": record["os"]?.stringValue ?? "",
            "type": record["type"]?.stringValue ?? "", "published": record["published_at"]?.stringValue.map(day) ?? "",
            "size": record["files"]?.arrayValue?.first.flatMap(ImageFile.init).map { ByteSize.text($0.size) } ?? "",
            "description": description.count > 140 ? String(description.prefix(140)) + "…" : description,
        ]
    }

    private static func options(_ values: [String], selected: String, any: String?) -> [[String: Any]] {
        (any.map { [["value": "", "label": $0, "selected": selected.isEmpty]] } ?? [])
            + values.map { ["value": $0, "label": $0, "selected": $0 == selected] }
    }

    /// `?k=v&…`, percent-encoded; empty for no pairs.
    private static func queryString(_ pairs: [(String, String)]) -> String {
        guard !pairs.isEmpty else { return "" }
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return "?" + pairs.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }.joined(separator: "&")
    }

    /// The date of an ISO 8601 timestamp.
    private static func day(_ timestamp: String) -> String {
        String(timestamp.prefix(10))
    }

    /// An HTML page, with a policy that would keep any script from running even if a value
    /// slipped through unescaped.
    private static func html(_ text: String?) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.contentSecurityPolicy] = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; form-action 'self'"
        headers[.xContentTypeOptions] = "nosniff"
        let body = ByteBuffer(string: text ?? "")
        headers[.contentLength] = String(body.readableBytes)
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: body))
    }
}
