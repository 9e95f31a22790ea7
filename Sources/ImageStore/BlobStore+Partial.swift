import Foundation
import IMGAPI
import NIOCore
import NIOFileSystem

/// Downloads that survive interruption (mirroring): bytes go to `partial/<key>` and stay
/// there when the transfer breaks off, so the next attempt can ask only for the rest.
extension BlobStore {
    var partialDirectory: String { root + "/partial" }

    /// A key is the upstream sha1 of the file: 40 lower-case hex digits, nothing else.
    static func isPartialKey(_ key: String) -> Bool {
        key.utf8.count == 40 && key.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    /// Bytes kept from an interrupted download of `key` (0 when there are none).
    public func partialSize(_ key: String) -> Int64 {
        guard Self.isPartialKey(key),
              let attributes = try? FileManager.default.attributesOfItem(atPath: partialPath(key)),
              let size = attributes[.size] as? NSNumber else { return 0 }
        return size.int64Value
    }

    /// Bytes kept for `key` that can be the start of a file of `size` bytes; kept bytes
    /// longer than that are not this file, and are dropped.
    public func keptBytes(_ key: String, upTo size: Int64) -> Int64 {
        let kept = partialSize(key)
        guard kept > size else { return kept }
        discardPartial(key)
        return 0
    }

    /// Where the kept bytes of `key` are.
    public func partialPath(_ key: String) -> String {
        "\(partialDirectory)/\(key)"
    }

    /// Appends `body` to the kept bytes of `key` from `offset` (0 starts over), digesting
    /// the kept bytes first. When `body` breaks off, what arrived is flushed and kept and the
    /// error is rethrown; when it ends, the file moves to `uploads/` and is returned staged.
    public func receivePartial(_ key: String, from offset: Int64, _ body: some AsyncSequence<ByteBuffer, any Error>,
                               maxSize: Int64, written: (@Sendable (Int64) -> Void)? = nil) async throws -> StagedBlob {
        try stagePartial(key, digests: try await keepPartial(key, from: offset, body, maxSize: maxSize, written: written))
    }

    /// Makes sure `partial/<key>` exists (empty when nothing is kept), so that it can be
    /// opened for reading before its download starts.
    public func preparePartial(_ key: String) throws {
        guard Self.isPartialKey(key) else { throw IMGAPIError.badRequest("invalid partial download key") }
        try FileManager.default.createDirectory(atPath: partialDirectory, withIntermediateDirectories: true)
        let fd = open(partialPath(key), O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Self.storageError(POSIXErrorText.current("create a download file")) }
        close(fd)
    }

    /// As `receivePartial`, but the whole file stays kept under `key` (to be staged later
    /// with `stagePartial`, or found by the next attempt): its digests. `written`, when given,
    /// hears how many bytes of the file are on disk (readable by others) as they land.
    public func keepPartial(_ key: String, from offset: Int64, _ body: some AsyncSequence<ByteBuffer, any Error>,
                            maxSize: Int64, written: (@Sendable (Int64) -> Void)? = nil) async throws -> FileDigests.Result {
        guard Self.isPartialKey(key) else { throw IMGAPIError.badRequest("invalid partial download key") }
        try FileManager.default.createDirectory(atPath: partialDirectory, withIntermediateDirectories: true)
        let path = partialPath(key)
        var digests = FileDigests()
        let start = offset > 0 && offset <= partialSize(key) ? offset : 0
        if start > 0 {
            try await FileSystem.shared.withFileHandle(forReadingAt: FilePath(path)) { handle in
                for try await chunk in handle.readChunks(in: 0..<start, chunkLength: .mebibytes(1)) {
                    digests.update(chunk)
                }
            }
        }
        do {
            return try await receive(into: path, from: start, body, digests: digests, maxSize: maxSize, written: written)
        } catch let error as IMGAPIError {
            // Too long, or the disk failed: these bytes cannot be trusted.
            discardPartial(key)
            throw error
        }
    }

    /// The kept file of `key`, whole and of `digests`, moved to `uploads/` to be installed.
    public func stagePartial(_ key: String, digests: FileDigests.Result) throws -> StagedBlob {
        let staged = "\(uploadsDirectory)/\(ImageUUID.random())"
        guard rename(partialPath(key), staged) == 0 else { throw Self.storageError(POSIXErrorText.current("move a finished download")) }
        return StagedBlob(path: staged, digests: digests)
    }

    private func receive(into path: String, from start: Int64, _ body: some AsyncSequence<ByteBuffer, any Error>,
                         digests: FileDigests, maxSize: Int64, written: (@Sendable (Int64) -> Void)?) async throws -> FileDigests.Result {
        var digests = digests
        let options = OpenOptions.Write(existingFile: start > 0 ? .open : .truncate,
                                        newFile: .init(transactionalCreation: false))
        return try await FileSystem.shared.withFileHandle(forWritingAt: FilePath(path), options: options) { handle in
            var writer = handle.bufferedWriter(startingAtAbsoluteOffset: start, capacity: Self.writeBuffer)
            var chunks = body.makeAsyncIterator()
            written?(start)
            var unannounced: Int64 = 0
            do {
                while let chunk = try await chunks.next() {
                    digests.update(chunk)
                    guard digests.size <= maxSize else {
                        throw IMGAPIError.upload("the file is longer than the \(maxSize) bytes announced")
                    }
                    do { try await writer.write(contentsOf: chunk) } catch { throw Self.storageError(error) }
                    unannounced += Int64(chunk.readableBytes)
                    if let written, unannounced >= Self.writeBuffer.bytes {
                        // The buffer has filled at least once since: flush what is left so
                        // that the announced bytes are all in the file.
                        do { try await writer.flush() } catch { throw Self.storageError(error) }
                        written(Int64(digests.size))
                        unannounced = 0
                    }
                }
            } catch let error as IMGAPIError {
                throw error
            } catch {
                // The transfer broke off: keep what arrived for the next attempt.
                try? await writer.flush()
                throw error
            }
            do {
                try await writer.flush()
                try await handle.synchronize()
            } catch { throw Self.storageError(error) }
            written?(Int64(digests.size))
            return digests.finalize()
        }
    }

    /// Forgets the kept bytes of `key` (after a mismatch: they cannot be trusted).
    public func discardPartial(_ key: String) {
        guard Self.isPartialKey(key) else { return }
        unlink(partialPath(key))
    }
}
