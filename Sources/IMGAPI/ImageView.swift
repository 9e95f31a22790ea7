/// The API view of an image record (spec §2.3): what GetImage and ListImages send.
public enum ImageView {
    /// Fields copied as stored when present, in output order, after `files` and `acl`.
    static let trailingFields = [
        "description", "homepage", "eula", "icon", "urn", "requirements", "users",
        "generate_passwords", "inherited_directories", "origin", "nic_driver", "disk_driver",
        "cpu_type", "image_size", "tags", "billing_tags", "traits", "error", "channels",
    ]

    /// The record in the reference's key order, without `activated` and internal file keys.
    /// `inclAdminFields` adds `files[].stor`; `includeChannels` (Accept-Version >= 2) adds `channels`.
    public static func render(_ record: JSONObject, mode: ServerMode, inclAdminFields: Bool = false, includeChannels: Bool = false) -> JSONObject {
        var view = JSONObject()
        for key in ["v", "uuid", "owner", "name", "version"] { view[key] = record[key] }
        view["state"] = record["state"] ?? .string(derivedState(record).rawValue)
        for key in ["disabled", "public", "published_at"] { view[key] = record[key] }
        for key in ["type", "os"] where record[key] != .string("null") { view[key] = record[key] }
        let files = record["files"]?.arrayValue ?? []
        view["files"] = .array(files.map { renderFile($0, inclAdminFields: inclAdminFields) })
        if let acl = record["acl"]?.arrayValue, !acl.isEmpty { view["acl"] = .array(acl) }
        for key in trailingFields {
            guard let value = record[key], shows(key, value, record: record, mode: mode, includeChannels: includeChannels) else {
                continue
            }
            view[key] = key == "icon" ? .bool(true) : value
        }
        return view
    }

    static func shows(_ key: String, _ value: JSONValue, record: JSONObject, mode: ServerMode, includeChannels: Bool) -> Bool {
        switch key {
        case "icon": return value.isTruthy
        case "billing_tags": return mode != .public && value.arrayValue?.isEmpty == false
        case "traits": return mode != .public && value.objectValue?.isEmpty == false
        case "error": return record["state"] == .string(ImageState.failed.rawValue)
        case "channels": return includeChannels
        default: return true
        }
    }

    static func derivedState(_ record: JSONObject) -> ImageState {
        ImageState.derive(activated: record["activated"]?.looseBool ?? false, disabled: record["disabled"]?.looseBool ?? false)
    }

    /// `{sha1, size, compression, dataset_guid?, digest?, stor?}`: MD5 and times stay hidden.
    /// `digest` (`sha256:<hex>`) is ours: the reference stores but does not emit one.
    static func renderFile(_ value: JSONValue, inclAdminFields: Bool) -> JSONValue {
        guard let file = value.objectValue else { return value }
        var view = JSONObject()
        for key in ["sha1", "size", "compression", "dataset_guid"] { view[key] = file[key] }
        if let sha256 = file["sha256"]?.stringValue { view["digest"] = .string("sha256:" + sha256) }
        if inclAdminFields { view["stor"] = file["stor"] }
        return .object(view)
    }
}
