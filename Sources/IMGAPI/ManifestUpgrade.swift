/// Upgrade of v1 (DSAPI) manifests to v2 (spec §2.5).
enum ManifestUpgrade {
    /// A v1 manifest has `creator_uuid` and no `v` (or a `v` below 2).
    static func isVersion1(_ manifest: JSONObject) -> Bool {
        guard manifest["creator_uuid"]?.isTruthy == true else { return false }
        guard let v = manifest["v"], v.isTruthy else { return true }
        return v.javaScriptNumber.map { $0 < 2 } ?? false
    }

    static let droppedFields = [
        "creator_uuid", "vendor_uuid", "creator_name", "cloud_name", "creator_admin",
        "restricted_to_uuid", "owner_uuid", "platform_type", "created_at", "updated_at", "_url",
    ]

    static func toVersion2(_ old: JSONObject) -> JSONObject {
        var manifest = old
        manifest["owner"] = old["creator_uuid"]
        if let restrictedTo = old["restricted_to_uuid"], restrictedTo.isTruthy {
            manifest["public"] = .bool(false)
            manifest["acl"] = .array([restrictedTo])
        } else {
            manifest["public"] = .bool(true)
        }
        let disabled = old["disabled"]?.isTruthy ?? false
        manifest["disabled"] = .bool(disabled)
        manifest["state"] = .string(disabled ? ImageState.disabled.rawValue : ImageState.active.rawValue)
        if old["published_at"]?.isTruthy != true, let created = old["created_at"], created.isTruthy {
            manifest["published_at"] = created
        }
        if let published = manifest["published_at"]?.stringValue, published.matchesDigitTemplate("####-##-##T##:##Z") {
            manifest["published_at"] = .string(published.dropLast() + ":00Z")
        }
        if let files = manifest["files"]?.arrayValue {
            manifest["files"] = .array(files.map(upgradeFile))
        }
        if let size = manifest["image_size"], size.isTruthy, let n = size.javaScriptNumber {
            manifest["image_size"] = .number(n)
        }
        for field in droppedFields { manifest[field] = nil }
        manifest["v"] = .number(2)
        return manifest
    }

    /// Files lose `path` and `url` and get a `compression` from the file name's extension.
    static func upgradeFile(_ value: JSONValue) -> JSONValue {
        guard var file = value.objectValue else { return value }
        if file["compression"]?.isTruthy != true {
            let name = (file["path"]?.isTruthy == true ? file["path"] : file["url"])?.stringValue ?? ""
            let compression: ImageCompression = switch extensionOf(name) {
            case ".gz": .gzip
            case ".bz2": .bzip2
            default: .none
            }
            file["compression"] = .string(compression.rawValue)
        }
        file["path"] = nil
        file["url"] = nil
        return .object(file)
    }

    /// Node's `path.extname`: from the last dot of the last path component, unless that dot leads it.
    static func extensionOf(_ path: String) -> Substring {
        let base = path.split(separator: "/", omittingEmptySubsequences: true).last ?? ""
        guard let dot = base.lastIndex(of: "."), dot != base.startIndex else { return "" }
        return base[dot...]
    }
}
