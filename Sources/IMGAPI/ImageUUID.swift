/// IMGAPI UUIDs: lower-case, hyphenated, 36 characters (what the reference router accepts).
public enum ImageUUID {
    public static let zero = "00000000-0000-0000-0000-000000000000"

    @inlinable
    public static func isValid(_ text: some StringProtocol) -> Bool {
        var i = 0
        for b in text.utf8 {
            switch i {
            case 36: return false
            case 8, 13, 18, 23: if b != UInt8(ascii: "-") { return false }
            default:
                let hex = (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "f"))
                if !hex { return false }
            }
            i += 1
        }
        return i == 36
    }

    /// A new random (version 4) UUID in IMGAPI form.
    public static func random() -> String {
        var generator = SystemRandomNumberGenerator()
        return version4(generator.next(), generator.next())
    }

    /// The version 4 UUID made of these 128 bits (six of them replaced by the version and variant).
    public static func version4(_ high: UInt64, _ low: UInt64) -> String {
        let high = (high & ~0xF000) | 0x4000
        let low = (low & ~(0xC0 << 56)) | (0x80 << 56)
        return String(unsafeUninitializedCapacity: 36) { out in
            var at = 0
            for nibble in 0..<32 {
                if nibble == 8 || nibble == 12 || nibble == 16 || nibble == 20 {
                    out[at] = UInt8(ascii: "-")
                    at += 1
                }
                let digit = UInt8(truncatingIfNeeded: ((nibble < 16 ? high : low) >> UInt64(60 - 4 * (nibble % 16))) & 0xF)
                out[at] = digit < 10 ? UInt8(ascii: "0") + digit : UInt8(ascii: "a") + digit - 10
                at += 1
            }
            return at
        }
    }
}
