/// Rules for `requirements` and its sub-fields. Falsy sub-fields skip their checks,
/// as in the reference; errors name the sub-field `requirements.<key>`, except
/// unknown keys, whose error names the bare key.
extension ManifestCheck {
    mutating func checkRequirements() {
        guard let value = record["requirements"] else { return }
        guard var requirements = value.objectValue else {
            return fail("requirements", "invalid image \"requirements\" (not an object): \(value.compact())")
        }
        checkNetworks(requirements["networks"])
        if let brand = requirements["brand"], brand.isTruthy, brand.stringValue == nil {
            fail("requirements.brand", "invalid image \"requirements.brand\" (not a string): \(brand.compact())")
        }
        if let sshKey = requirements["ssh_key"], sshKey.isTruthy, sshKey.boolValue == nil {
            fail("requirements.ssh_key", "invalid image \"requirements.ssh_key\" (not a boolean): \(sshKey.compact())")
        }
        checkRAM(min: requirements["min_ram"], max: requirements["max_ram"])
        checkPlatforms("min_platform", requirements["min_platform"])
        checkPlatforms("max_platform", requirements["max_platform"])
        checkBootrom(requirements["bootrom"], brand: requirements["brand"])
        for known in ["networks", "brand", "ssh_key", "min_ram", "max_ram", "min_platform", "max_platform", "bootrom"] {
            requirements[known] = nil
        }
        for key in requirements.keys {
            fail(key, "unsupported requirement \"\(key)\"")
        }
    }

    mutating func checkNetworks(_ value: JSONValue?) {
        guard let value, value.isTruthy else { return }
        guard let networks = value.arrayValue else {
            return fail("requirements.networks", "invalid image \"requirements.networks\" (not an array): \(value.compact())")
        }
        for network in networks {
            let keys = network.objectValue.map { Set($0.keys) }
            if keys != ["name", "description"] {
                fail("requirements.networks", "invalid image \"requirements.networks\" entry: \(network.compact())")
            }
        }
    }

    mutating func checkRAM(min: JSONValue?, max: JSONValue?) {
        func integer(_ field: String, _ value: JSONValue?) -> Double? {
            guard let value, value.isTruthy else { return nil }
            guard let n = value.numberValue, n.rounded() == n else {
                fail("requirements.\(field)", "invalid image \"requirements.\(field)\" (not a positive integer): \(value.compact())")
                return nil
            }
            return n
        }
        let minRAM = integer("min_ram", min)
        let maxRAM = integer("max_ram", max)
        if let minRAM, let maxRAM, maxRAM < minRAM {
            fail("requirements.max_ram", "min_ram must be <= max_ram, but: min_ram=\(JSONValue.number(minRAM).compact()), max_ram=\(JSONValue.number(maxRAM).compact())")
        }
    }

    /// A non-empty object mapping SDC versions to platform stamps `YYYYMMDDTHHMMSSZ`.
    mutating func checkPlatforms(_ field: String, _ value: JSONValue?) {
        guard let value, value.isTruthy else { return }
        guard let platforms = value.objectValue, !platforms.isEmpty else {
            return fail("requirements.\(field)", "invalid image \"requirements.\(field)\" (not an object): \(value.compact())")
        }
        for (version, stamp) in platforms where !(stamp.stringValue.map(Self.isPlatformStamp) ?? false) {
            fail("requirements.\(field)", "invalid image \"requirements.\(field)\" entry: \"\(version): \(stamp.javaScriptText)\" not a valid platform version")
        }
    }

    /// `YYYYMMDDTHHMMSSZ` with year >= 2012 and plausible month, day, hour, minute and second.
    static func isPlatformStamp(_ stamp: String) -> Bool {
        guard stamp.matchesDigitTemplate("########T######Z") else { return false }
        let digits = Array(stamp.utf8).map { Int($0) - Int(UInt8(ascii: "0")) }
        func number(_ start: Int, _ count: Int) -> Int { digits[start..<start + count].reduce(0) { $0 * 10 + $1 } }
        return number(0, 4) >= 2012
            && (1...12).contains(number(4, 2)) && (1...31).contains(number(6, 2))
            && number(9, 2) <= 23 && number(11, 2) <= 59 && number(13, 2) <= 59
    }

    mutating func checkBootrom(_ value: JSONValue?, brand: JSONValue?) {
        guard let value, value.isTruthy else { return }
        if value.stringValue.map(ManifestFields.bootroms.contains) != true {
            fail("requirements.bootrom", "invalid image \"requirements.bootrom\" (must be one of \(ManifestFields.bootroms.joined(separator: ", "))): \(value.compact())")
        } else if brand != .string("bhyve") {
            fail("requirements.bootrom", "invalid image \"requirements.bootrom\" (only valid with requirements.brand \"bhyve\")")
        }
    }
}
