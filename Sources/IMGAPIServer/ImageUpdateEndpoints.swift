import Hummingbird
import IMGAPI
import ImageStore

extension Endpoints {
    /// UpdateImage: the changed fields merged into the image and validated as a whole.
    func updateImage(_ uuid: String, body: JSONValue?, account: String?, _ call: Call) async throws -> Response {
        let body = body ?? .object(JSONObject())
        let mode = self.mode
        let channels = configuration.channels.map(\.name)
        let updated = try await repository.modify(uuid) { record in
            try ImageUpdate.apply(body, to: record, byOperator: account == nil, mode: mode, channels: channels)
        }
        return .json(view(updated, call), etag: true)
    }

    /// `POST /images/:uuid/acl?action=add|remove` (AddImageAcl, RemoveImageAcl): the body is a
    /// JSON array of account uuids; adding one already there or removing an absent one is fine.
    func changeAcl(_ uuid: String, _ call: Call) async throws -> Response {
        try authenticator.authorizeWrite(call)
        let action = call.query.value("action") ?? "add"
        guard action == "add" || action == "remove" else {
            throw IMGAPIError.invalidParameter(field: "action", message: "unsupported ACL action \"\(action)\": use add or remove")
        }
        let account = try account(call)
        let channel = try channel(call, forRead: false)
        let body = try await RequestBodyReader.json(call.request, limit: settings.configuration.maxJSONBodySize)
        guard let items = body?.arrayValue else {
            throw IMGAPIError.invalidParameter(field: "acl", message: "invalid image \"acl\" (not an array)")
        }
        var accounts: [String] = []
        for (index, item) in items.enumerated() {
            guard let text = item.stringValue, ImageUUID.isValid(text) else {
                throw IMGAPIError.invalidParameter(field: "acl", message: "invalid image \"acl\" (item \(index) is not a UUID)")
            }
            accounts.append(text)
        }
        _ = try await visibleImage(uuid, account: account, channel: channel, mustOwn: true)
        let named = accounts
        let updated = try await repository.modify(uuid) { record in
            var record = record
            var acl = (record["acl"]?.arrayValue ?? []).compactMap(\.stringValue)
            if action == "add" {
                for account in named where !acl.contains(account) { acl.append(account) }
            } else {
                acl.removeAll { named.contains($0) }
            }
            record["acl"] = .array(acl.map(JSONValue.string))
            return record
        }
        return .json(view(updated, call), etag: true)
    }
}
