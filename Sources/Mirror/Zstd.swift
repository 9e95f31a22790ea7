import CZstd

/// Whole-buffer zstd (the system's libzstd), for a bundle's index.
enum Zstd {
    static func compress(_ bytes: [UInt8]) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: ZSTD_compressBound(bytes.count))
        let written = out.withUnsafeMutableBytes { out in
            bytes.withUnsafeBytes { ZSTD_compress(out.baseAddress, out.count, $0.baseAddress, $0.count, 9) }
        }
        guard ZSTD_isError(written) == 0 else { throw BundleError("zstd could not compress the index") }
        return Array(out.prefix(written))
    }

    /// The decompressed bytes, refused when they would be more than `limit`.
    static func decompress(_ bytes: [UInt8], limit: Int) throws -> [UInt8] {
        let size = bytes.withUnsafeBytes { ZSTD_getFrameContentSize($0.baseAddress, $0.count) }
        // ZSTD_CONTENTSIZE_UNKNOWN and _ERROR are the two largest values.
        guard size < UInt64.max - 1 else { throw BundleError("the bundle's index is not zstd data that says its size: the bundle is damaged") }
        guard size <= UInt64(limit) else { throw BundleError("the bundle's index would be larger than \(limit) bytes") }
        var out = [UInt8](repeating: 0, count: Int(size))
        let written = out.withUnsafeMutableBytes { out in
            bytes.withUnsafeBytes { ZSTD_decompress(out.baseAddress, out.count, $0.baseAddress, $0.count) }
        }
        guard ZSTD_isError(written) == 0, written == Int(size) else { throw BundleError("the bundle's index is damaged zstd data") }
        return out
    }
}
