/// Turns the body of CreateImage or AdminImportImage into a new, valid, unactivated
/// image record (spec §1.6, §1.15). Origin existence is the caller's to check: it needs the catalog.
/// Body `channels` is ignored; the caller sets `channels` from the request channel when the server has channels.
public enum ImageDraft {
    /// CreateImage (`POST /images`): `uuid` is the new image's (server-chosen) uuid,
    /// `account` the `?account=` parameter, if any.
    public static func forCreate(body: JSONValue, account: String?, mode: ServerMode, uuid: String) throws(IMGAPIError) -> JSONObject {
        var fields = try requireObject(body)
        if let account, !ImageUUID.isValid(account) { throw .invalidParameter(field: "account") }
        if fields["state"] != nil {
            throw .validationFailed([FieldError(field: "state", code: "NotAllowed", message: "Parameter cannot be set")])
        }
        fields = upgradedAndTrimmed(fields)
        if let account {
            if let owner = fields["owner"], owner != .string(account) {
                throw .invalidParameter(field: "owner", message: "owner (\(owner.javaScriptText)) does not match account (\(account))")
            }
            fields["owner"] = .string(account)
        }
        try refuseExtraFields(fields, allowed: ManifestFields.creatable)
        if fields["v"] == nil { fields["v"] = .number(2) }
        return try record(from: fields, uuid: uuid, mode: mode)
    }

    /// AdminImportImage (`POST /images/:uuid?action=import` without `source`): `uuid` is the path's.
    public static func forImport(uuid: String, body: JSONValue, mode: ServerMode) throws(IMGAPIError) -> JSONObject {
        var fields = try requireObject(body)
        guard fields["uuid"] == .string(uuid) else {
            throw .invalidParameter(field: "uuid", message: "\"uuid\" in the body must equal the image uuid in the URL (\(uuid))")
        }
        fields = upgradedAndTrimmed(fields)
        try refuseExtraFields(fields, allowed: ManifestFields.creatable + ManifestFields.importOnly)
        if let published = fields["published_at"], published.stringValue == nil {
            throw .invalidParameter(field: "published_at")
        }
        fields["owner"] = .string(ImageUUID.zero)
        return try record(from: fields, uuid: uuid, mode: mode)
    }

    static func requireObject(_ body: JSONValue) throws(IMGAPIError) -> JSONObject {
        guard let object = body.objectValue else {
            throw .invalidParameter("the request body must be a JSON object (an image manifest)",
                                    errors: [.invalid("body", "not a JSON object")])
        }
        return object
    }

    /// The manifest upgraded from v1 if need be, without the fields the server ignores
    /// (`state`, `files`, `channels`) or controls (`icon`).
    static func upgradedAndTrimmed(_ fields: JSONObject) -> JSONObject {
        var fields = ManifestUpgrade.isVersion1(fields) ? ManifestUpgrade.toVersion2(fields) : fields
        for ignored in ["state", "files", "channels", "icon"] { fields[ignored] = nil }
        return fields
    }

    /// `422 InvalidParameter` naming every field not in `allowed` (zvol fields allowed for zvol images).
    static func refuseExtraFields(_ fields: JSONObject, allowed: [String]) throws(IMGAPIError) {
        let isZvol = fields["type"] == .string("zvol")
        let permitted = Set(allowed + (isZvol ? ManifestFields.zvolOnly : []))
        let extras = fields.keys.filter { !permitted.contains($0) }
        guard extras.isEmpty else {
            let quoted = extras.map { "\"\($0)\"" }.joined(separator: ", ")
            throw .invalidParameter("invalid extra parameters: \(quoted)", errors: extras.map { .invalid($0) })
        }
    }

    /// The unactivated record: body fields normalised, server fields set, then validated.
    static func record(from fields: JSONObject, uuid: String, mode: ServerMode) throws(IMGAPIError) -> JSONObject {
        var record = JSONObject()
        record["v"] = fields["v"]
        record["uuid"] = .string(uuid)
        for (key, value) in fields where key != "uuid" {
            record[key] = normalised(key, value)
        }
        let disabled = record["disabled"]?.looseBool ?? false
        if record["disabled"] == nil { record["disabled"] = .bool(false) }
        if record["public"] == nil { record["public"] = .bool(mode.imagesArePublic) }
        if record["acl"] == nil { record["acl"] = .array([]) }
        record["files"] = .array([])
        record["activated"] = .bool(false)
        record["state"] = .string(ImageState.derive(activated: false, disabled: disabled).rawValue)
        let errors = ManifestValidator(mode: mode).validate(record)
        guard errors.isEmpty else { throw .validationFailed(errors) }
        return record
    }

    /// The stored form of a body value: `"true"`/`"false"` become booleans, a bare
    /// `acl`/`billing_tags` string becomes a one-element array, `image_size` a number.
    static func normalised(_ key: String, _ value: JSONValue) -> JSONValue {
        switch key {
        case "disabled", "public", "generate_passwords":
            return value.looseBool.map(JSONValue.bool) ?? value
        case "acl", "billing_tags":
            if case .string = value { return .array([value]) }
            return value
        case "image_size":
            if case .string = value, let n = value.javaScriptNumber { return .number(n) }
            return value
        default:
            return value
        }
    }
}
