/// UpdateImage (`POST /images/:uuid?action=update`, spec §1.12): which fields a caller may
/// change, and the merged record, validated as a whole.
public enum ImageUpdate {
    /// Fields anyone who may see and own the image can change.
    public static let mutable: Set<String> = [
        "owner", "name", "version", "description", "homepage", "eula", "public", "os", "acl", "requirements",
        "users", "billing_tags", "traits", "tags", "generate_passwords", "inherited_directories", "nic_driver",
        "disk_driver", "cpu_type", "image_size", "channels",
    ]
    /// Fields only an operator (no `account`) can change.
    public static let operatorOnly: Set<String> = ["billing_tags", "traits", "origin"]
    /// Operator fields the reference lets change in ways this server does not support
    /// (moving a file to a new uuid, rewriting state or docker digests).
    static let unsupported: Set<String> = ["state", "error", "files", "uuid"]

    /// The record with `body` applied: `null` deletes a field, any other value replaces it.
    /// `byOperator` is false when the caller named an `account`. All problems are reported at once.
    public static func apply(_ body: JSONValue, to record: JSONObject, byOperator: Bool, mode: ServerMode,
                             channels: [String]) throws(IMGAPIError) -> JSONObject {
        guard let fields = body.objectValue else {
            throw .validationFailed([.missing("body")], prefix: "invalid image update data")
        }
        guard !fields.isEmpty else {
            throw IMGAPIError(status: 422, code: "ValidationFailed",
                              message: "invalid image update data: no parameters provided", errors: [])
        }
        var errors: [FieldError] = []
        var merged = record
        let activated = record["activated"]?.boolValue ?? false
        for (key, value) in fields {
            if operatorOnly.contains(key) || unsupported.contains(key), !byOperator {
                errors.append(FieldError(field: key, code: "NotAllowed", message: "Can only be updated by operators"))
                continue
            }
            if key == "origin", activated {
                errors.append(FieldError(field: key, code: "NotAllowed", message: "Can only be updated on an unactivated image"))
                continue
            }
            guard mutable.contains(key) || operatorOnly.contains(key) else {
                let message = unsupported.contains(key) ? "Parameter cannot be updated by this server" : "Parameter cannot be updated"
                errors.append(FieldError(field: key, code: "NotAllowed", message: message))
                continue
            }
            if key == "channels", let names = value.arrayValue {
                // An image in no channel would be in no listing, and no write could reach it.
                if names.isEmpty { errors.append(.invalid("channels", "an image must stay in at least one channel")) }
                for name in names where !channels.contains(name.stringValue ?? "") {
                    errors.append(.invalid("channels", "unknown channel: \(name.javaScriptText)"))
                }
            }
            merged[key] = value == .null ? nil : ImageDraft.normalised(key, value)
        }
        guard errors.isEmpty else { throw .validationFailed(errors, prefix: "invalid image update data") }
        let problems = ManifestValidator(mode: mode, channelsConfigured: !channels.isEmpty).validate(merged)
        guard problems.isEmpty else { throw .validationFailed(problems) }
        return merged
    }
}
