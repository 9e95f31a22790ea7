/// Rules for the manifest's single-valued fields.
extension ManifestCheck {
    mutating func checkV() {
        guard let v = record["v"] else { return missing("v") }
        guard let n = v.javaScriptNumber, n >= 0 else { return fail("v", "\"v\" must be a positive integer") }
    }

    mutating func checkUUID(_ field: String, required: Bool) {
        guard let value = record[field] else {
            if required { missing(field) }
            return
        }
        guard let s = value.stringValue, ImageUUID.isValid(s) else { return fail(field) }
    }

    mutating func checkName() {
        guard let value = record["name"] else { return missing("name") }
        guard let name = value.stringValue else { return fail("name", "image name must be a string") }
        if name.javaScriptLength > ManifestFields.maxNameLength {
            fail("name", "image name is too long, max \(ManifestFields.maxNameLength) characters")
        } else if !name.consists(of: ManifestCharacters.name) {
            fail("name", "image name has invalid characters (only alpha-numeric characters and \" \", \".\", \"-\", \"_\" and \"/\" are allowed)")
        }
    }

    mutating func checkVersion() {
        guard let value = record["version"] else { return missing("version") }
        guard let version = value.stringValue else { return fail("version", "image version must be a string") }
        if version.javaScriptLength > ManifestFields.maxVersionLength {
            fail("version", "image version is too long, max \(ManifestFields.maxVersionLength) characters")
        } else if !version.consists(of: ManifestCharacters.version) {
            fail("version", "image version has invalid characters (only alpha-numeric characters and \".\", \"-\", \"_\", \"/\" and \"+\" are allowed)")
        }
    }

    mutating func checkDescription() {
        guard let value = record["description"] else { return }
        guard let description = value.stringValue else { return fail("description", "image description must be a string") }
        if description.javaScriptLength > ManifestFields.maxDescriptionLength {
            fail("description", "image description is too long, max \(ManifestFields.maxDescriptionLength) characters")
        }
    }

    /// `url.parse(value).protocol` must be `http:` or `https:`.
    mutating func checkURL(_ field: String, label: String) {
        guard let value = record[field] else { return }
        guard let url = value.stringValue, let scheme = Self.urlScheme(url), scheme == "http" || scheme == "https" else {
            return fail(field, "invalid image \(label) URL protocol")
        }
        if url.javaScriptLength > ManifestFields.maxURLLength {
            fail(field, "image \(label) URL is too long (max \(ManifestFields.maxURLLength) characters)")
        }
    }

    /// The lower-cased scheme of a URL, as Node's `url.parse` finds it.
    static func urlScheme(_ url: String) -> String? {
        let text = url.trimmingJavaScriptWhitespace()
        guard let colon = text.firstIndex(of: ":") else { return nil }
        let scheme = String(text[..<colon])
        guard scheme.consists(of: ManifestCharacters.alphanumeric + "+-.") else { return nil }
        return scheme.lowercased()
    }

    /// Booleans, or the strings "true"/"false" old servers stored.
    mutating func checkBool(_ field: String, required: Bool) {
        guard let value = record[field] else {
            if required { missing(field) }
            return
        }
        if value.looseBool == nil { fail(field, "invalid image \"\(field)\" (not an accepted boolean value): \(value.compact())") }
    }

    /// API input says `true`; a stored record holds the icon's details as an object.
    mutating func checkIcon() {
        guard let value = record["icon"], value.objectValue == nil else { return }
        checkBool("icon", required: false)
    }

    mutating func checkPublishedAt() {
        guard let value = record["published_at"] else {
            if activated { missing("published_at", "if activated is \"true\" published_at must be present") }
            return
        }
        let valid = value.stringValue.map {
            $0.matchesDigitTemplate("####-##-##T##:##:##Z") || $0.matchesDigitTemplate("####-##-##T##:##:##.###Z")
        } ?? false
        if !valid { fail("published_at", "published_at date not in \"YYYY-MM-DDTHH:MM:SS(.SSS)Z\" format") }
    }

    mutating func checkPublic() {
        guard let value = record["public"] else { return missing("public") }
        guard let isPublic = value.looseBool else {
            return fail("public", "invalid value for \"public\": \(value.compact())")
        }
        switch validator.mode {
        case .public where !isPublic: fail("public", "private images are not allowed on a public Images API")
        case .private where isPublic: fail("public", "public images are not allowed on a private Images API")
        default: break
        }
    }

    mutating func checkState() {
        guard let value = record["state"] else { return missing("state") }
        guard let s = value.stringValue, ImageState(rawValue: s) != nil else { return fail("state") }
    }

    /// `type` and `os`: one of `allowed`, or `"null"` for a placeholder.
    mutating func checkEnumeration(_ field: String, _ allowed: [String]) {
        guard let value = record[field] else { return missing(field) }
        if value == .string("null") {
            if !isPlaceholder { fail(field, "invalid image \(field), \"null\"") }
        } else if value.stringValue.map(allowed.contains) != true {
            fail(field, "invalid image \(field), \"\(value.javaScriptText)\", must be one of: \(allowed.joined(separator: ", "))")
        }
    }

    /// `nic_driver`, `disk_driver`, `cpu_type`: required strings for zvol images, refused for others.
    mutating func checkZvolString(_ field: String) {
        guard let value = record[field] else {
            if isZvol { missing(field) }
            return
        }
        if value.isTruthy && !isZvol {
            fail(field, "invalid image \(field): \"\(value.javaScriptText)\" (only allowed when image type is zvol)")
        } else if value.stringValue == nil {
            fail(field, "invalid image \(field): \"\(value.javaScriptText)\" (must be a string)")
        }
    }

    mutating func checkImageSize() {
        guard let value = record["image_size"] else {
            if isZvol { missing("image_size") }
            return
        }
        if value.isTruthy && !isZvol {
            return fail("image_size", "invalid image image_size: \"\(value.javaScriptText)\" (only allowed when image type is zvol)")
        }
        let n = value.javaScriptNumber
        guard let n, n.rounded() == n, n > 0 || (!isZvol && n == 0) else {
            return fail("image_size", "invalid image image_size: \"\(value.javaScriptText)\" (must be a positive integer)")
        }
    }

    mutating func checkError() {
        guard let value = record["error"] else { return }
        if value.objectValue == nil { fail("error", "invalid image \"error\" (not an object): \(value.compact())") }
    }

    mutating func checkURN() {
        guard let value = record["urn"] else { return }
        if value.stringValue == nil { fail("urn", "invalid image \"urn\" (not a string): \(value.compact())") }
    }
}
