/// Rules for the manifest's arrays and objects.
extension ManifestCheck {
    mutating func checkFiles() {
        guard let value = record["files"] else {
            if activated { missing("files", "if activated is \"true\" files must be present") }
            return
        }
        guard let files = value.arrayValue else {
            return fail("files", "invalid image \"files\" (not an array): \(value.javaScriptText)")
        }
        let maxFiles = type == .string("lxd") ? 2 : 1
        guard files.count <= maxFiles else { return fail("files", "invalid image \"files\": too many files") }
        for file in files {
            guard let file = file.objectValue else {
                fail("files", "invalid image \"files\": file is not an object")
                continue
            }
            if file["sha1"]?.isTruthy != true { fail("files", "invalid image \"files\": file missing \"sha1\" field") }
            if file["size"]?.isTruthy != true { fail("files", "invalid image \"files\": file missing \"size\" field") }
            let compressions = ImageCompression.allCases.map(\.rawValue)
            if let compression = file["compression"], compression.isTruthy {
                if compression.stringValue.flatMap(ImageCompression.init(rawValue:)) == nil {
                    fail("files", "invalid image \"files\": invalid compression \"\(compression.javaScriptText)\" (must be one of \(compressions.joined(separator: ", ")))")
                }
            } else {
                fail("files", "invalid image \"files\": file missing \"compression\" field")
            }
        }
    }

    mutating func checkACL() {
        guard let value = record["acl"] else { return }
        guard let acl = value.arrayValue else {
            return fail("acl", "invalid image \"acl\" (not an array): \(value.javaScriptText)")
        }
        if let index = acl.firstIndex(where: { $0.stringValue.map(ImageUUID.isValid) != true }) {
            fail("acl", "invalid image \"acl\" (item \(index) is not a UUID): \(acl[index].javaScriptText)")
        }
    }

    mutating func checkUsers() {
        guard let value = record["users"] else { return }
        guard let users = value.arrayValue else {
            return fail("users", "invalid image \"users\" (not an array): \(value.compact())")
        }
        for user in users where user.objectValue?.keys != ["name"] {
            fail("users", "invalid image \"users\" entry: \(user.compact())")
        }
    }

    mutating func checkBillingTags() {
        guard let value = record["billing_tags"] else { return }
        guard let tags = value.arrayValue else {
            return fail("billing_tags", "invalid image \"billing_tags\" (not an array): \(value.javaScriptText)")
        }
        for tag in tags where tag.stringValue.map({ $0.javaScriptLength <= ManifestFields.maxBillingTagLength }) != true {
            fail("billing_tags", "invalid image \"billing_tags\" entry: \(tag.javaScriptText)")
        }
    }

    mutating func checkTraits() {
        guard let value = record["traits"] else { return }
        guard let traits = value.objectValue else {
            return fail("traits", "invalid image \"traits\" (not an object): \(value.compact())")
        }
        for (key, trait) in traits {
            switch trait {
            case .string, .bool, .array: continue
            default: fail("traits", "invalid image \"traits\" entry: (\(key), \(trait.compact()))")
            }
        }
    }

    mutating func checkTags() {
        guard let value = record["tags"] else { return }
        guard value.objectValue != nil else {
            return fail("tags", "invalid image \"tags\" (not an object): \(value.compact())")
        }
        if value.compact().javaScriptLength > ManifestFields.maxTagsLength {
            fail("tags", "image \"tags\" string length is too long, max \(ManifestFields.maxTagsLength) characters")
        }
    }

    mutating func checkInheritedDirectories() {
        guard let value = record["inherited_directories"] else { return }
        guard type == .string("zone-dataset") else {
            return fail("inherited_directories", "invalid image \"inherited_directories\" (only valid for a type:zone-dataset image): \(value.compact())")
        }
        guard let directories = value.arrayValue else {
            return fail("inherited_directories", "invalid image \"inherited_directories\" (not an array): \(value.compact())")
        }
        for directory in directories where directory.stringValue == nil {
            fail("inherited_directories", "invalid image \"inherited_directories\" entry: \(directory.compact())")
        }
    }

    mutating func checkChannels() {
        guard validator.channelsConfigured else {
            return fail("channels", "this server has no channels, so images cannot have \"channels\"")
        }
        guard let value = record["channels"] else { return missing("channels") }
        guard let channels = value.arrayValue, channels.allSatisfy({ $0.stringValue != nil }) else {
            return fail("channels", "invalid image \"channels\" (not an array of strings): \(value.compact())")
        }
    }
}
