/// IMGAPI UUIDs: lower-case, hyphenated, 36 characters (what the reference router accepts).
public enum ImageUUID {
    public static let zero = "00000000-0000-0000-0000-000000000000"

    public static func isValid(_ text: some StringProtocol) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 36 else { return false }
        for (i, b) in bytes.enumerated() {
            switch i {
            case 8, 13, 18, 23: if b != UInt8(ascii: "-") { return false }
            default:
                let hex = (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "f"))
                if !hex { return false }
            }
        }
        return true
    }

    /// A new random (version 4) UUID in IMGAPI form.
    public static func random() -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes = withUnsafeBytes(of: (generator.next() as UInt64, generator.next() as UInt64)) { Array($0) }
        bytes[6] = (bytes[6] & 0x0F) | 0x40
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        return [0..<4, 4..<6, 6..<8, 8..<10, 10..<16].map { Hex.encode(bytes[$0]) }.joined(separator: "-")
    }
}
