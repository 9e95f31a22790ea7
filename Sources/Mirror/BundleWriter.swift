import Foundation
import IMGAPI
import ImageStore
import NIOCore
import NIOFileSystem

/// Writes a bundle, as one tar file or as a directory. The tar file is written under a
/// `.partial` name and renamed when whole; its index comes first, so that a reader knows
/// every entry before its bytes. In a directory each entry is renamed into place when
/// whole, and the index comes last: a directory without one is an export that stopped.
final class BundleWriter {
    let path: String
    let isDirectory: Bool
    private let index: (name: String, bytes: [UInt8])
    private var tar: WriteFileHandle?
    private var writer: BufferedWriter<WriteFileHandle>?
    private let mtime = Int64(Date().timeIntervalSince1970)

    /// Starts a bundle at `path`, which must not exist (or, for a directory, be empty).
    init(path: String, isDirectory: Bool, index: (name: String, bytes: [UInt8])) async throws {
        self.path = path
        self.isDirectory = isDirectory
        self.index = index
        let fm = FileManager.default
        if isDirectory {
            if let entries = try? fm.contentsOfDirectory(atPath: path), !entries.isEmpty {
                throw BundleError("\(path) is not empty: export into a new directory")
            }
            for folder in ["files", "icons"] { try fm.createDirectory(atPath: "\(path)/\(folder)", withIntermediateDirectories: true) }
        } else {
            guard !fm.fileExists(atPath: path) else { throw BundleError("\(path) exists: export to a new file") }
            let options = OpenOptions.Write(existingFile: .truncate, newFile: .init(transactionalCreation: false))
            let handle = try await FileSystem.shared.openFile(forWritingAt: FilePath(path + ".partial"), options: options)
            tar = handle
            writer = handle.bufferedWriter(capacity: .mebibytes(1))
            do {
                try await add(index.name, size: Int64(index.bytes.count)) { write in try await write(ByteBuffer(bytes: index.bytes)) }
            } catch {
                await abandon()
                throw error
            }
        }
    }

    /// Adds entry `name` of `size` bytes, which `body` hands to the function it is given.
    func add(_ name: String, size: Int64, _ body: (_ write: (ByteBuffer) async throws -> Void) async throws -> Void) async throws {
        let written: Int64
        if var writer {
            try await writer.write(contentsOf: TarArchive.header(name: name, size: size, mtime: mtime))
            written = try await Self.copy(name, size: size, into: &writer, body)
            try await writer.write(contentsOf: [UInt8](repeating: 0, count: TarArchive.padding(after: size)))
            self.writer = writer
        } else {
            let partial = "\(path)/\(name).partial"
            let options = OpenOptions.Write(existingFile: .truncate, newFile: .init(transactionalCreation: false))
            written = try await FileSystem.shared.withFileHandle(forWritingAt: FilePath(partial), options: options) { handle in
                var writer = handle.bufferedWriter(capacity: .mebibytes(1))
                let written = try await Self.copy(name, size: size, into: &writer, body)
                try await writer.flush()
                try await handle.synchronize()
                return written
            }
            guard rename(partial, "\(path)/\(name)") == 0 else { throw BundleError(POSIXErrorText.current("rename \(partial)").description) }
        }
        guard written == size else { throw BundleError("entry \(name) is \(written) bytes, not the \(size) its index says") }
    }

    /// Writes what `body` hands over to `writer`, never more than `size` bytes: how many it wrote.
    private static func copy(_ name: String, size: Int64, into writer: inout BufferedWriter<WriteFileHandle>,
                             _ body: (_ write: (ByteBuffer) async throws -> Void) async throws -> Void) async throws -> Int64 {
        var written: Int64 = 0
        try await body { chunk in
            written += Int64(chunk.readableBytes)
            guard written <= size else { throw BundleError("entry \(name) grew past its \(size) bytes while it was written") }
            try await writer.write(contentsOf: chunk)
        }
        return written
    }

    /// Ends the bundle: the tar file's end and its rename, or the directory's index.
    func finish() async throws {
        if var writer, let tar {
            try await writer.write(contentsOf: TarArchive.end)
            try await writer.flush()
            try await tar.synchronize()
            try await tar.close()
            self.tar = nil
            guard rename(path + ".partial", path) == 0 else { throw BundleError(POSIXErrorText.current("rename \(path).partial").description) }
        } else {
            try await add(index.name, size: Int64(index.bytes.count)) { write in try await write(ByteBuffer(bytes: index.bytes)) }
        }
    }

    /// Removes what an export that failed wrote.
    func abandon() async {
        if let tar {
            try? await tar.close()
            self.tar = nil
            unlink(path + ".partial")
        } else {
            try? FileManager.default.removeItem(atPath: path)
        }
    }
}
