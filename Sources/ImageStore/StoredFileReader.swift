import NIOCore
import NIOFileSystem

/// Reads a stored file back to check it: which file it is, and its digests.
enum StoredFileReader {
    enum Outcome {
        case missing
        case unreadable(String, BlobStore.FileIdentity?)
        /// The file's size did not match `expectedSize`: it was not read.
        case wrongSize(Int64, BlobStore.FileIdentity?)
        case read(FileDigests.Result, BlobStore.FileIdentity?)
    }

    /// Digests the file at `path`, calling `afterChunk` with the bytes read so far (to pace
    /// the reading). A file of another size than `expectedSize` is not read.
    static func digest(_ path: String, expectedSize: Int64,
                       afterChunk: (Int64) async throws -> Void = { _ in }) async throws -> Outcome {
        let handle: ReadFileHandle
        do { handle = try await FileSystem.shared.openFile(forReadingAt: FilePath(path)) } catch { return .missing }
        var identity: BlobStore.FileIdentity?
        do {
            let info = try await handle.info()
            identity = BlobStore.FileIdentity(info)
            guard info.size == expectedSize else {
                await handle.closeEvenIfCancelled()
                return .wrongSize(info.size, identity)
            }
            var digests = FileDigests()
            for try await chunk in handle.readChunks(chunkLength: .mebibytes(1)) {
                digests.update(chunk)
                try await afterChunk(digests.size)
            }
            await handle.closeEvenIfCancelled()
            return .read(digests.finalize(), identity)
        } catch let error as CancellationError {
            await handle.closeEvenIfCancelled()
            throw error
        } catch {
            await handle.closeEvenIfCancelled()
            return .unreadable("\(error)", identity)
        }
    }

    /// What is wrong with `outcome` for `file`, if anything (nil: the file is good).
    static func problem(_ outcome: Outcome, for file: ImageFile) -> (problem: String, identity: BlobStore.FileIdentity?)? {
        switch outcome {
        case .missing: return ("the stored file is missing", nil)
        case .unreadable(let error, let identity): return ("the stored file cannot be read: \(error)", identity)
        case .wrongSize(let size, let identity): return ("the stored file is \(size) bytes but should be \(file.size) bytes", identity)
        case .read(let found, let identity):
            if found.sha256 != file.sha256 { return ("its SHA-256 is \(found.sha256), not \(file.sha256)", identity) }
            if found.sha1 != file.sha1 { return ("its SHA-1 is \(found.sha1), not \(file.sha1)", identity) }
            return nil
        }
    }
}
