import Foundation
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
                do { entry = try TarArchive.parse(header: Array(buffer: header)) } catch let error as TarArchive.Malformed {
                    throw BundleError("\(path) is not a bundle: \(error)")
                }
                guard let entry else { return BundleReader(path: path, tarEntries: entries) }
                let data = offset + Int64(TarArchive.block)
                if entry.isFile { entries[entry.name] = (data, entry.size) }
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

    /// Hands `body` the bytes of entry `name` in chunks.
    func withEntry<T>(_ name: String, _ body: (FileChunks) async throws -> T) async throws -> T {
        let (file, range): (String, Range<Int64>)
        if let tarEntries {
            guard let entry = tarEntries[name] else { throw BundleError("the bundle has no entry \(name)") }
            (file, range) = (path, entry.offset..<(entry.offset + entry.size))
        } else {
            guard let size = try await size(of: name) else { throw BundleError("the bundle has no entry \(name)") }
            (file, range) = (path + "/" + name, 0..<size)
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
}
