#if canImport(Glibc)
import Glibc
#endif
import Foundation
import IMGAPI
import NIOCore
import NIOFileSystem
import AsyncAlgorithms

/// An upload written and digested, not yet part of the store.
public struct StagedBlob: Sendable {
    public let path: String
    public let digests: FileDigests.Result
}

/// Image files on disk, one per distinct content, at `blobs/sha256/<2 hex>/<64 hex>`.
/// Uploads land in `uploads/` and enter the store by an atomic rename once verified.
public struct BlobStore: Sendable {
    /// The reference server's upper limit for one image file.
    public static let maximumFileSize: Int64 = 20 * 1024 * 1024 * 1024

    public let root: String
    /// The shared copy of every file (replicas), with `blobs/` as this replica's cache of it.
    public let shared: SharedBlobs?
    var blobsDirectory: String { root + "/blobs/sha256" }
    var uploadsDirectory: String { root + "/uploads" }
    var quarantineDirectory: String { root + "/quarantine" }

    /// Creates the directories when missing unless `creating` is false (a read-only look).
    /// Blocking: call at start-up.
    public init(root: String, shared: SharedBlobs? = nil, creating: Bool = true) throws {
        self.root = root
        self.shared = shared
        guard creating else { return }
        for directory in [blobsDirectory, uploadsDirectory] {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
    }

    public func path(forSHA256 sha256: String) -> String {
        "\(blobsDirectory)/\(sha256.prefix(2))/\(sha256)"
    }

    /// Streams `body` to a new file in `uploads/` while digesting it, then flushes it to disk.
    /// The digests run in a child task a few batches of chunks (`ChunkBatch`) behind the
    /// writing, so that the two overlap, both on `CPUExecutor`'s threads. On any failure (client
    /// gone, size over `maxSize`, disk full, the task cancelled: then `CancellationError`)
    /// the partial file is removed. A body that breaks off is an `Upload` error saying how
    /// many of the `expectedSize` bytes arrived.
    public func receive(_ body: some AsyncSequence<ByteBuffer, any Error>, maxSize: Int64 = maximumFileSize,
                        expectedSize: Int64? = nil) async throws -> StagedBlob {
        try await withTaskExecutorPreference(CPUExecutor.shared) {
            try await receiveHere(body, maxSize: maxSize, expectedSize: expectedSize)
        }
    }

    private func receiveHere(_ body: some AsyncSequence<ByteBuffer, any Error>, maxSize: Int64,
                             expectedSize: Int64?) async throws -> StagedBlob {
        let path = "\(uploadsDirectory)/\(ImageUUID.random())"
        do {
            // A plain named file (not NIO's link-on-close creation): the upload is visible in
            // uploads/ while it runs, and start-up housekeeping knows what a crash left.
            let options = OpenOptions.Write(existingFile: .none, newFile: .init(transactionalCreation: false))
            let batches = AsyncThrowingChannel<[ByteBuffer], any Error>()
            async let digested = Self.digest(batches)
            let size: Int64
            do {
                size = try await FileSystem.shared.withFileHandle(forWritingAt: FilePath(path), options: options) { handle in
                    var size: Int64 = 0
                    var writer = handle.bufferedWriter(capacity: Self.writeBuffer)
                    var iterator = body.makeAsyncIterator()
                    var batch = ChunkBatch()
                    while true {
                        let next: ByteBuffer?
                        do { next = try await iterator.next() } catch let refusal as IMGAPIError {
                            throw refusal  // the body's own check refused it
                        } catch {
                            throw Self.brokeOff(after: size, of: expectedSize, error)
                        }
                        guard let chunk = next else { break }
                        size += Int64(chunk.readableBytes)
                        guard size <= maxSize else {
                            throw IMGAPIError.upload("image file exceeds the maximum size of \(maxSize) bytes")
                        }
                        if let full = batch.add(chunk) { await batches.send(full) }
                        do { try await writer.write(contentsOf: chunk) } catch { throw Self.storageError(error) }
                    }
                    if let rest = batch.rest() { await batches.send(rest) }
                    batches.finish()
                    do {
                        try await writer.flush()
                        try await handle.synchronize()
                    } catch { throw Self.storageError(error) }
                    return size
                }
            } catch {
                batches.fail(error)
                _ = try? await digested
                throw error
            }
            let digests = try await digested
            // The digests stop early only if the task was cancelled: never stage such a file.
            guard digests.size == size else { throw CancellationError() }
            return StagedBlob(path: path, digests: digests)
        } catch {
            await discard(path)
            if Task.isCancelled { throw CancellationError() }
            throw error
        }
    }

    /// Bytes gathered per write(2) of a received file. Writes of 1 MiB spent 5 times as long
    /// in the kernel as writes of 128 KiB (0.52 s against 0.09 s for a 256 MiB upload,
    /// `strace -c`, Linux 6.18, ext4).
    static let writeBuffer = ByteCount.kibibytes(128)

    /// The digests of the batches sent to `batches` until it finishes; it may fall 4 batches behind.
    private static func digest(_ batches: AsyncThrowingChannel<[ByteBuffer], any Error>) async throws -> FileDigests.Result {
        var digests = FileDigests()
        for try await batch in batches.buffer(policy: .bounded(4)) {
            for chunk in batch { digests.update(chunk) }
        }
        return digests.finalize()
    }

    /// `400 Upload`: the body stopped before its end; says how far it got and what to do.
    static func brokeOff(after received: Int64, of expected: Int64?, _ cause: any Error) -> IMGAPIError {
        let reason = (cause as? UploadStalled).map { "\($0)" } ?? "the client closed the connection"
        let count = expected.map { "\(received) of \($0) bytes" } ?? "\(received) bytes"
        return IMGAPIError.upload("the upload ended after \(count): \(reason); nothing was stored, send the whole file again")
    }

    public func discard(_ staged: StagedBlob) async {
        await discard(staged.path)
    }

    /// A plain unlink: it must also work in a cancelled task, where NIOFileSystem refuses.
    private func discard(_ path: String) async {
        unlink(path)
    }

    /// Moves a verified upload to its content address; identical content already there is kept
    /// and the upload dropped. True when the blob is new. Blocking: call inside `Catalog.exclusive`.
    public func install(_ staged: StagedBlob) throws -> Bool {
        let target = path(forSHA256: staged.digests.sha256)
        let directory = String(target[..<target.lastIndex(of: "/")!])
        if mkdir(directory, 0o755) == 0 {
            // A new prefix directory: its own entry must be durable too.
            Self.syncDirectory(blobsDirectory)
        } else if errno != EEXIST {
            throw Self.storageError(POSIXErrorText.current("create \(directory)"))
        }
        // A verified upload replaces a stored copy of the same digest: nothing already on
        // disk is trusted without being hashed, and a copy that went bad is healed.
        let existed = FileManager.default.fileExists(atPath: target)
        guard rename(staged.path, target) == 0 else {
            throw Self.storageError(POSIXErrorText.current("rename upload into the blob store"))
        }
        Self.syncDirectory(directory)
        return !existed
    }

    /// Bytes free to an unprivileged writer on the storage file system; nil when it cannot
    /// be read. One statvfs(2): cheap, but a system call.
    public func freeBytes() -> Int64? {
        var info = statvfs()
        guard statvfs(root, &info) == 0 else { return nil }
        let (bytes, overflow) = Int64(info.f_bavail).multipliedReportingOverflow(by: Int64(info.f_frsize))
        return overflow ? Int64.max : bytes
    }

    /// Which file a path is (device and inode): a file replaced meanwhile is another one.
    public struct FileIdentity: Sendable, Equatable {
        let device: UInt64
        let inode: UInt64

        public init(device: UInt64, inode: UInt64) {
            self.device = device
            self.inode = inode
        }

        /// The file an open handle's `info()` describes.
        public init?(_ info: FileInfo) {
            guard let status = info.platformSpecificStatus else { return nil }
            self.init(device: UInt64(status.st_dev), inode: UInt64(status.st_ino))
        }

        static func of(_ path: String) -> FileIdentity? {
            var status = stat()
            guard stat(path, &status) == 0 else { return nil }
            return FileIdentity(device: UInt64(status.st_dev), inode: UInt64(status.st_ino))
        }
    }

    /// Moves the blob to `quarantine/` (over an older quarantined copy), unless it is no
    /// longer the file `identity` names. Blocking: call inside `Catalog.exclusive`.
    func moveToQuarantine(sha256: String, ifStill identity: FileIdentity?) throws {
        let source = path(forSHA256: sha256)
        if let identity, FileIdentity.of(source) != identity { return }
        guard FileManager.default.fileExists(atPath: source) else { return }
        do { try FileManager.default.createDirectory(atPath: quarantineDirectory, withIntermediateDirectories: true) } catch {
            throw Self.storageError(error)
        }
        guard rename(source, "\(quarantineDirectory)/\(sha256)") == 0 else {
            throw Self.storageError(POSIXErrorText.current("move a failed file to quarantine"))
        }
    }

    /// The SHA-256 of every file in `blobs/`.
    func storedBlobs() -> [String] {
        files(in: blobsDirectory, recursive: true).compactMap { $0.split(separator: "/").last.map(String.init) }.sorted()
    }

    /// The names of the plain files in `directory` (paths below it when `recursive`).
    func files(in directory: String, recursive: Bool = false) -> [String] {
        let fm = FileManager.default
        let names = recursive ? (fm.enumerator(atPath: directory)?.compactMap { $0 as? String } ?? [])
                              : ((try? fm.contentsOfDirectory(atPath: directory)) ?? [])
        return names.filter {
            var isDirectory: ObjCBool = false
            return fm.fileExists(atPath: "\(directory)/\($0)", isDirectory: &isDirectory) && !isDirectory.boolValue
        }.sorted()
    }

    /// Removes the quarantined copy of `sha256`, if any.
    func removeQuarantined(sha256: String) {
        unlink("\(quarantineDirectory)/\(sha256)")
    }

    /// Removes a blob no image uses any more. Blocking: call inside `Catalog.exclusive`.
    public func remove(sha256: String) {
        unlink(path(forSHA256: sha256))
    }

    /// Start-up housekeeping: uploads interrupted by a crash or stop are discarded, and blobs
    /// that no catalog entry references (a crash between rename and commit) are removed.
    public func collectGarbage(referenced: Set<String>) throws -> (uploads: Int, blobs: Int) {
        let fm = FileManager.default
        var uploads = 0, blobs = 0
        for name in try fm.contentsOfDirectory(atPath: uploadsDirectory) {
            try fm.removeItem(atPath: "\(uploadsDirectory)/\(name)")
            uploads += 1
        }
        for prefix in try fm.contentsOfDirectory(atPath: blobsDirectory) {
            for name in try fm.contentsOfDirectory(atPath: "\(blobsDirectory)/\(prefix)") where !referenced.contains(name) {
                try fm.removeItem(atPath: "\(blobsDirectory)/\(prefix)/\(name)")
                blobs += 1
            }
        }
        return (uploads, blobs)
    }

    /// Makes a rename durable.
    private static func syncDirectory(_ directory: String) {
        let fd = open(directory, O_RDONLY)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }

    static func storageError(_ error: any Error) -> IMGAPIError {
        if let error = error as? IMGAPIError { return error }
        let text = String(describing: error)
        if text.contains("No space left") || text.contains("ENOSPC") { return .storeFull }
        return .storageIsDown("cannot write to the image store: \(text)")
    }
}

/// The text of the current `errno`, for storage errors.
public struct POSIXErrorText: Error, CustomStringConvertible {
    public let description: String

    public static func current(_ action: String) -> POSIXErrorText {
        POSIXErrorText(description: "\(action): \(String(cString: strerror(errno)))")
    }
}

extension IMGAPIError {
    /// The disk under the storage directory is full.
    public static let storeFull = IMGAPIError.storageIsDown(
        "no space left on the image store's disk: free space (delete images or grow the disk) and try again")
}
