import Crypto
import Foundation
import IMGAPI
import ImageStore
import NIOCore
import NIOFileSystem

/// A bundle to read: one tar file, whose entries are found by reading their headers only,
/// or a directory holding the entries as files.
struct BundleReader {
    let path: String
    /// In a tar file: where each regular entry's data starts, and its size.
    private let tarEntries: [String: (offset: Int64, size: Int64)]?

    /// The most headers read from a tar file: far more than any catalog's images.
    static let maximumEntries = 1_000_000

    static func open(_ path: String) async throws -> BundleReader {
        guard let info = try? await FileSystem.shared.info(forFileAt: FilePath(path)) else {
            throw BundleError("\(path) does not exist: give a bundle file or directory made by imgapid export")
        }
        if info.type == .directory { return BundleReader(path: path, tarEntries: nil) }
        return try await FileSystem.shared.withFileHandle(forReadingAt: FilePath(path)) { handle in
            var entries: [String: (offset: Int64, size: Int64)] = [:]
            var offset: Int64 = 0
            for _ in 0..<maximumEntries {
                let header = try await handle.readChunk(fromAbsoluteOffset: offset, length: .bytes(Int64(TarArchive.block)))
                let entry: TarArchive.Entry?
                do { entry = try TarArchive.parse(header: Array(buffer: header), maximumSize: BlobStore.maximumFileSize) } catch let error as TarArchive.Malformed {
                    throw BundleError("\(path) is not a bundle: \(error)")
                }
                guard let entry else { return BundleReader(path: path, tarEntries: entries) }
                let data = offset + Int64(TarArchive.block)
                // `tar cf b.tar -C dir .` names them ./imgapi-bundle.json, ./files/…
                if entry.isFile { entries[entry.name.hasPrefix("./") ? String(entry.name.dropFirst(2)) : entry.name] = (data, entry.size) }
                offset = data + entry.size + Int64(TarArchive.padding(after: entry.size))
                guard data + entry.size <= info.size else {
                    throw BundleError("\(path) is cut short: its entry \(entry.name) ends past the end of the file")
                }
            }
            throw BundleError("\(path) holds more than \(maximumEntries) tar entries: it is not a bundle")
        }
    }

    /// The size of entry `name`; nil when the bundle has none.
    func size(of name: String) async throws -> Int64? {
        if let tarEntries { return tarEntries[name]?.size }
        guard let info = try await FileSystem.shared.info(forFileAt: FilePath(path + "/" + name)), info.type == .regular else {
            return nil
        }
        return info.size
    }

    /// Hands `body` the bytes of entry `name` from byte `start` in chunks.
    func withEntry<T>(_ name: String, from start: Int64 = 0, _ body: (FileChunks) async throws -> T) async throws -> T {
        let (file, range): (String, Range<Int64>)
        if let tarEntries {
            guard let entry = tarEntries[name] else { throw BundleError("the bundle has no entry \(name)") }
            (file, range) = (path, (entry.offset + min(start, entry.size))..<(entry.offset + entry.size))
        } else {
            guard let size = try await size(of: name) else { throw BundleError("the bundle has no entry \(name)") }
            (file, range) = (path + "/" + name, min(start, size)..<size)
        }
        return try await FileSystem.shared.withFileHandle(forReadingAt: FilePath(file)) { handle in
            try await body(handle.readChunks(in: range, chunkLength: .mebibytes(1)))
        }
    }

    /// A small entry, read whole: at most `limit` bytes.
    func read(_ name: String, limit: Int) async throws -> [UInt8] {
        guard let size = try await size(of: name) else { throw BundleError("the bundle has no entry \(name)") }
        guard size <= Int64(limit) else { throw BundleError("the bundle's entry \(name) is larger than \(limit) bytes") }
        return try await withEntry(name) { chunks in
            var bytes: [UInt8] = []
            for try await chunk in chunks { bytes += chunk.readableBytesView }
            return bytes
        }
    }

    /// The bundle's index, plain or compressed, checked (`BundleIndex.parse`).
    func index(present: (String) async throws -> Bool) async throws -> BundleIndex {
        let bytes: [UInt8]
        if try await size(of: BundleIndex.name) != nil {
            bytes = try await read(BundleIndex.name, limit: BundleIndex.maximumSize)
        } else if try await size(of: BundleIndex.compressedName) != nil {
            bytes = try Zstd.decompress(try await read(BundleIndex.compressedName, limit: BundleIndex.maximumSize),
                                        limit: BundleIndex.maximumSize)
        } else {
            throw BundleError("\(path) has no \(BundleIndex.name): it is not a bundle, or its export did not finish")
        }
        return try await BundleIndex.parse(bytes, present: present)
    }

    /// The icon of `image`, checked against the index; nil when it has none.
    func icon(of image: BundleIndex.Image) async throws -> ImageIcon? {
        guard let entry = image.icon else { return nil }
        guard let type = image.iconType, ImageIcon.contentTypes.contains(type), entry.size <= Int64(ImageIcon.maximumSize) else {
            throw BundleError("its icon is not a PNG, JPEG or GIF of at most \(ImageIcon.maximumSize) bytes")
        }
        let bytes = try await read(entry.path, limit: ImageIcon.maximumSize)
        guard bytes.count == entry.size, Hex.encode(SHA256.hash(data: bytes)) == entry.sha256 else {
            throw BundleError("entry \(entry.path) is not the icon the index describes (size or SHA-256 differ)")
        }
        return ImageIcon(contentType: type, bytes: bytes)
    }

    /// Hands `body` the bytes of the file entry of `image` from byte `start`, once its size
    /// is the one the index gives.
    func withFile<T>(of image: BundleIndex.Image, from start: Int64 = 0, _ body: (FileChunks) async throws -> T) async throws -> T {
        let entry = image.file
        guard let size = try await size(of: entry.path) else { throw BundleError("the bundle has no entry \(entry.path)") }
        guard size == entry.size else { throw BundleError("entry \(entry.path) is \(size) bytes, not the \(entry.size) the index says") }
        return try await withEntry(entry.path, from: start, body)
    }

    /// Checks the file entry of `image` by reading it whole: size, SHA-256 and the manifest's SHA-1.
    func checkFile(of image: BundleIndex.Image) async throws {
        let digests = try await withFile(of: image) { chunks in
            var digests = FileDigests()
            for try await chunk in chunks { digests.update(chunk) }
            return digests.finalize()
        }
        try Self.check(digests, of: image)
    }

    /// Throws unless `digests` are those of the file of `image`.
    static func check(_ digests: FileDigests.Result, of image: BundleIndex.Image) throws {
        let entry = image.file
        guard digests.sha256 == entry.sha256, digests.sha1 == image.upstream.sha1, digests.size == entry.size else {
            throw BundleError("entry \(entry.path) is not the file the index and manifest describe (its SHA-256 is \(digests.sha256))")
        }
    }
}
