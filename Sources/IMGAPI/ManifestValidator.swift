/// The imgmanifest validator of a stored image record (spec §2.1, §2.2):
/// every problem is reported, not only the first.
public struct ManifestValidator: Sendable {
    /// Decides which `public` value is acceptable.
    public let mode: ServerMode
    /// Whether the server has channels (then `channels` is required, else refused).
    public let channelsConfigured: Bool

    /// `channelsConfigured`: the server has channels, so every image must have `channels`.
    public init(mode: ServerMode, channelsConfigured: Bool = false) {
        self.mode = mode
        self.channelsConfigured = channelsConfigured
    }

    /// All the problems of `record`, in the reference's order: required fields,
    /// then the other known fields, then unknown keys. Empty when the record is valid.
    public func validate(_ record: JSONObject) -> [FieldError] {
        var check = ManifestCheck(record: record, validator: self)
        for field in ManifestFields.required { check.run(field) }
        if channelsConfigured { check.run("channels") }
        for field in ManifestFields.optional where record[field] != nil {
            if field == "channels" && channelsConfigured { continue }
            check.run(field)
        }
        for key in record.keys where !ManifestFields.known.contains(key) {
            check.errors.append(.invalid(key))
        }
        // SQLite would cut such a string at the NUL, so two different tag keys could collide.
        for key in record.keys where Self.containsNUL(.string(key)) || record[key].map(Self.containsNUL) == true {
            check.errors.append(.invalid(key, "\"\(key)\" must not contain a NUL character (\\u0000)"))
        }
        return check.errors
    }

    /// Whether a string, or any key or string inside an array or object, holds U+0000.
    static func containsNUL(_ value: JSONValue) -> Bool {
        switch value {
        case .string(let text): return text.utf8.contains(0)
        case .array(let items): return items.contains(where: containsNUL)
        case .object(let object): return object.keys.contains { $0.utf8.contains(0) || object[$0].map(containsNUL) == true }
        default: return false
        }
    }
}

/// One validation run: the record and the errors found so far.
struct ManifestCheck {
    let record: JSONObject
    let validator: ManifestValidator
    var errors: [FieldError] = []

    init(record: JSONObject, validator: ManifestValidator) {
        self.record = record
        self.validator = validator
    }

    var activated: Bool { record["activated"]?.looseBool == true }
    var type: JSONValue? { record["type"] }
    var isZvol: Bool { type == .string("zvol") }
    var isPlaceholder: Bool { record["state"] == .string("creating") || record["state"] == .string("failed") }

    mutating func fail(_ field: String, _ message: String? = nil) {
        errors.append(.invalid(field, message))
    }

    mutating func missing(_ field: String, _ message: String? = nil) {
        errors.append(.missing(field, message))
    }

    /// Checks one field; a field that is absent is reported only when it is required.
    mutating func run(_ field: String) {
        switch field {
        case "v": checkV()
        case "uuid", "owner": checkUUID(field, required: true)
        case "origin": checkUUID(field, required: false)
        case "name": checkName()
        case "version": checkVersion()
        case "description": checkDescription()
        case "homepage": checkURL("homepage", label: "homepage")
        case "eula": checkURL("eula", label: "EULA")
        case "disabled", "activated": checkBool(field, required: true)
        case "icon": checkIcon()
        case "generate_passwords": checkBool(field, required: false)
        case "published_at": checkPublishedAt()
        case "public": checkPublic()
        case "state": checkState()
        case "type": checkEnumeration("type", ManifestFields.types)
        case "os": checkEnumeration("os", ManifestFields.oses)
        case "files": checkFiles()
        case "nic_driver", "disk_driver", "cpu_type": checkZvolString(field)
        case "image_size": checkImageSize()
        case "error": checkError()
        case "acl": checkACL()
        case "requirements": checkRequirements()
        case "users": checkUsers()
        case "billing_tags": checkBillingTags()
        case "traits": checkTraits()
        case "tags": checkTags()
        case "inherited_directories": checkInheritedDirectories()
        case "urn": checkURN()
        case "channels": checkChannels()
        default: fail(field)
        }
    }
}
