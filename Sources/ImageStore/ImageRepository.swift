import Foundation
import IMGAPI
import Synchronization

/// The image repository: the catalog and the blob store kept consistent with each other.
/// Every state change is one catalog transaction; a file is installed in the same critical
/// section as the catalog row that adopts it, and removed only when no row uses it.
public final class ImageRepository: Sendable {
    public let catalog: Catalog
    public let blobs: BlobStore
    public let mode: ServerMode
    /// Keeps DeleteImage working on a full disk.
    public let reserve: DiskReserve
    /// Held while a writable repository is open: no other process writes the storage meanwhile.
    private let lock: StorageLock?
    /// Files being fetched from the shared store into `blobs/` (`fillFromShared`).
    private let sharedFills = Mutex<Set<String>>([])

    public enum Access: Sendable {
        /// The only writer: creates the storage when new, takes its lock (`StorageInUse` when
        /// another process has it) and makes its disk reserve if there is room.
        case write
        /// Reads only, beside a writer or where nothing exists yet, and changes nothing.
        case readOnly
    }

    /// Opens the storage directory, and the catalog in it or on PostgreSQL (`catalog`).
    /// Blocking: call at start-up. A nil `mode` keeps the catalog's recorded mode (see `Catalog.init`).
    public init(storage: String, catalog location: PostgresLocation? = nil, shared: SharedBlobs? = nil,
                mode: ServerMode?, access: Access = .write) throws {
        reserve = DiskReserve(storage: storage)
        switch access {
        case .write:
            try FileManager.default.createDirectory(atPath: storage, withIntermediateDirectories: true)
            lock = try StorageLock(storage: storage)
            blobs = try BlobStore(root: storage, shared: shared)
            catalog = try location.map { try Catalog(postgres: $0, mode: mode) } ?? Catalog(path: storage + "/catalog.sqlite", mode: mode)
            reserve.restore()
        case .readOnly:
            lock = nil
            blobs = try BlobStore(root: storage, shared: shared, creating: false)
            catalog = try location.map { try Catalog(postgres: $0, mode: nil) } ?? Catalog(readingAt: storage + "/catalog.sqlite")
        }
        self.mode = catalog.mode
    }

    /// Removes uploads a crash interrupted and blobs no image references.
    public func collectGarbage() async throws -> (uploads: Int, blobs: Int) {
        let referenced = try await catalog.referencedBlobs()
        return try blobs.collectGarbage(referenced: referenced)
    }

    public func image(_ uuid: String) async throws -> StoredImage {
        guard let image = try await catalog.image(uuid) else { throw IMGAPIError.imageNotFound(uuid) }
        return image
    }

    /// Stores a new image record (CreateImage or AdminImportImage): the uuid must be free
    /// and the origin, when named, must exist.
    public func add(_ record: JSONObject) async throws -> StoredImage {
        try await catalog.exclusive { catalog in
            let uuid = record["uuid"]?.stringValue ?? ""
            guard try !catalog.exists(uuid) else { throw IMGAPIError.imageUuidAlreadyExists(uuid) }
            if let origin = record["origin"]?.stringValue, try !catalog.exists(origin) {
                throw IMGAPIError.originDoesNotExist(origin)
            }
            return try catalog.transaction { try catalog.save(record) }
        }
    }

    /// What the uploader promised about the file; each given value must match.
    public struct FileExpectation: Sendable {
        public var sha1: String?
        public var sha256: String?
        public var size: Int64?

        public init(sha1: String? = nil, sha256: String? = nil, size: Int64? = nil) {
            self.sha1 = sha1
            self.sha256 = sha256
            self.size = size
        }
    }

    /// Checks an image can still take a file, before its bytes are received.
    public func checkFileAcceptable(_ uuid: String) async throws {
        let image = try await image(uuid)
        guard !image.isActivated else { throw IMGAPIError.imageFilesImmutable(uuid) }
    }

    /// Verifies a received upload and makes it the image's file (replacing any earlier one).
    /// On any failure the upload is discarded and the image is unchanged.
    public func addFile(_ uuid: String, staged: StagedBlob, compression: String, datasetGUID: String?,
                        expected: FileExpectation, stream: ImageFile.StreamCheck? = nil) async throws -> StoredImage {
        do {
            try Self.verify(staged.digests, against: expected)
            let blobs = self.blobs
            // Into the shared store before the writer's lock, so a long upload holds up no other write.
            try await blobs.shared?.upload(staged.path, sha256: staged.digests.sha256)
            return try await catalog.exclusive { catalog in
                guard var record = try catalog.image(uuid)?.record else { throw IMGAPIError.imageNotFound(uuid) }
                guard record["activated"]?.boolValue != true else { throw IMGAPIError.imageAlreadyActivated(uuid) }
                let previous = record.imageFiles
                let file = ImageFile(sha256: staged.digests.sha256, sha1: staged.digests.sha1,
                                     contentMD5: staged.digests.contentMD5, size: staged.digests.size,
                                     compression: compression, datasetGUID: datasetGUID,
                                     mtime: Int64(Date().timeIntervalSince1970 * 1000), stream: stream)
                record["files"] = .array([file.json])
                let stored = try Self.installing(staged, blobs: blobs, catalog: catalog) {
                    try catalog.transaction { try catalog.save(record) }
                }
                try Self.release(previous.filter { $0.sha256 != file.sha256 }, catalog: catalog, blobs: blobs)
                return stored
            }
        } catch {
            await blobs.discard(staged)
            if let shared = blobs.shared {
                // A failed publish leaves no object behind (unless an image uses the same file).
                let sha256 = staged.digests.sha256
                _ = try? await catalog.exclusive { catalog in
                    guard try catalog.references(toBlob: sha256) == 0 else { return }
                    try catalog.makeCommitsDurable()
                    try shared.remove(sha256)
                }
            }
            throw error
        }
    }

    static func verify(_ digests: FileDigests.Result, against expected: FileExpectation) throws {
        if digests.size == 0 {
            throw IMGAPIError.download("image file size is 0 bytes, empty files are not allowed")
        }
        if let size = expected.size, size != digests.size {
            throw IMGAPIError.download("\"Content-Length\" header, \(size), does not match uploaded size, \(digests.size)")
        }
        if let sha1 = expected.sha1, sha1.lowercased() != digests.sha1 {
            throw IMGAPIError.download("\"sha1\" hash, \(sha1), does not match the uploaded file sha1 hash, \(digests.sha1)")
        }
        if let sha256 = expected.sha256, sha256.lowercased() != digests.sha256 {
            throw IMGAPIError.download("\"sha256\" hash, \(sha256), does not match the uploaded file sha256 hash, \(digests.sha256)")
        }
    }

    /// ActivateImage: needs a file, and its origin chain in each of its channels; sets
    /// `published_at` (milliseconds) unless an import brought one.
    public func activate(_ uuid: String) async throws -> StoredImage {
        try await catalog.exclusive { catalog in
            guard var record = try catalog.image(uuid)?.record else { throw IMGAPIError.imageNotFound(uuid) }
            guard record["activated"]?.boolValue != true else { throw IMGAPIError.imageAlreadyActivated(uuid) }
            guard !record.imageFiles.isEmpty else { throw IMGAPIError.noActivationNoFile(uuid) }
            try Self.checkOriginChain(of: record, isIn: (record["channels"]?.arrayValue ?? []).compactMap(\.stringValue), catalog)
            record["activated"] = .bool(true)
            let disabled = record["disabled"]?.boolValue ?? false
            record["state"] = .string(ImageState.derive(activated: true, disabled: disabled).rawValue)
            Self.stampPublished(&record)
            return try catalog.transaction { try catalog.save(record) }
        }
    }

    /// An activated image has a `published_at`: now, with milliseconds, unless it has one.
    static func stampPublished(_ record: inout JSONObject) {
        guard record["published_at"] == nil else { return }
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        record["published_at"] = .string(Timestamp.iso8601(milliseconds: now))
    }

    /// DisableImage / EnableImage: idempotent; an unactivated image stays unactivated.
    public func setDisabled(_ uuid: String, _ disabled: Bool) async throws -> StoredImage {
        try await catalog.exclusive { catalog in
            guard var record = try catalog.image(uuid)?.record else { throw IMGAPIError.imageNotFound(uuid) }
            record["disabled"] = .bool(disabled)
            let activated = record["activated"]?.boolValue ?? false
            record["state"] = .string(ImageState.derive(activated: activated, disabled: disabled).rawValue)
            return try catalog.transaction { try catalog.save(record) }
        }
    }

    /// DeleteImage: refused while another image names this one as its origin; the file is
    /// removed from disk only when no other image shares it. On a full disk the reserve is
    /// given up to make room for the catalog's journal, and made anew once files are freed.
    public func delete(_ uuid: String) async throws {
        let blobs = self.blobs
        let reserve = self.reserve
        try await catalog.exclusive { catalog in
            guard let image = try catalog.image(uuid) else { throw IMGAPIError.imageNotFound(uuid) }
            let dependents = try catalog.dependents(of: uuid)
            guard dependents.isEmpty else { throw IMGAPIError.imageHasDependentImages(uuid, dependents) }
            do {
                try catalog.transaction { try catalog.delete(uuid) }
            } catch let error as CatalogFull {
                guard reserve.release() else { throw error }
                try catalog.transaction { try catalog.delete(uuid) }
            }
            try Self.release(image.files, catalog: catalog, blobs: blobs)
            reserve.restore()
        }
    }

    /// Installs `staged` (over a stored copy of the same digest, and into the shared store
    /// when there is one) and runs `commit`, the transaction that makes an image use it. If
    /// the commit fails (a full disk), a blob this call placed that no image uses is removed
    /// again; if it succeeds, a quarantined copy of the same digest is released.
    static func installing<T>(_ staged: StagedBlob, blobs: BlobStore, catalog: CatalogWriter,
                              _ commit: () throws -> T) throws -> T {
        let placed = try blobs.install(staged)
        let sha256 = staged.digests.sha256
        let result: T
        do {
            try blobs.shared?.ensure(sha256, size: staged.digests.size, from: blobs.path(forSHA256: sha256))
            result = try commit()
        } catch {
            if placed, (try? catalog.references(toBlob: sha256)) == 0 {
                blobs.remove(sha256: sha256)
            }
            throw error
        }
        // A quarantined file of the same digest is healed by these verified bytes.
        try releaseQuarantine(sha256, catalog: catalog, blobs: blobs)
        return result
    }

    /// Forgets that `sha256` was quarantined, and once that is durable removes the quarantined copy.
    static func releaseQuarantine(_ sha256: String, catalog: CatalogWriter, blobs: BlobStore) throws {
        guard try catalog.releaseQuarantine(sha256) else { return }
        try catalog.makeCommitsDurable()
        blobs.removeQuarantined(sha256: sha256)
    }

    /// Removes the blobs of `files` that no image references any more (committed state),
    /// quarantined copies and shared copies included.
    static func release(_ files: [ImageFile], catalog: CatalogWriter, blobs: BlobStore) throws {
        let unused = try files.filter { try catalog.references(toBlob: $0.sha256) == 0 }
        guard !unused.isEmpty else { return }
        try catalog.makeCommitsDurable()
        for file in unused {
            // An object store that cannot be reached now leaves an object no image uses,
            // which its clean-up removes (`collectSharedGarbage`).
            try? blobs.shared?.remove(file.sha256)
            blobs.remove(sha256: file.sha256)
            try releaseQuarantine(file.sha256, catalog: catalog, blobs: blobs)
        }
    }

    /// Clears the shared store of what failed or interrupted publishes left: multipart uploads
    /// begun, and files stored, more than `age` ago that no image uses (each checked again
    /// as the only writer, so a file an image adopts meanwhile stays). Returns how many of each.
    public func collectSharedGarbage(olderThan age: Duration) async throws -> (uploads: Int, files: Int) {
        guard let shared = blobs.shared else { return (0, 0) }
        let uploads = try await shared.client.abortIncompleteUploads(olderThan: age)
        let referenced = try await catalog.referencedBlobs()
        var removed = 0
        for sha256 in try await shared.files(olderThan: age) where !referenced.contains(sha256) {
            let gone = try await catalog.exclusive { catalog in
                guard try catalog.references(toBlob: sha256) == 0 else { return false }
                try catalog.makeCommitsDurable()
                try shared.remove(sha256)
                return true
            }
            if gone { removed += 1 }
        }
        return (uploads, removed)
    }

    /// Whether the shared store has `file` (its object, of its size), when there is one.
    public func sharedCopyAvailable(_ file: ImageFile) async throws -> Bool {
        guard let shared = blobs.shared else { return false }
        return try await shared.size(of: file.sha256) == file.size
    }

    /// Starts `fetchShared` in the background, unless one for the same file is under way.
    public func fillFromShared(_ file: ImageFile) {
        guard sharedFills.withLock({ $0.insert(file.sha256).inserted }) else { return }
        Task {
            defer { sharedFills.withLock { _ = $0.remove(file.sha256) } }
            _ = try? await fetchShared(file)  // a failed fill is tried again on the next request
        }
    }

    /// Brings a file this replica does not hold from the shared store into `blobs/`, verified
    /// (another replica published it, this one's cache was lost, or its copy was quarantined:
    /// the verified copy heals it). False when there is no shared store or it does not have
    /// the file either, or no image uses the file any more.
    func fetchShared(_ file: ImageFile) async throws -> Bool {
        guard let shared = blobs.shared else { return false }
        let staged = blobs.uploadsDirectory + "/" + ImageUUID.random()
        guard try await shared.fetch(file.sha256, size: file.size, to: staged) else { return false }
        let blobs = self.blobs
        return try await catalog.exclusive { catalog in
            guard try catalog.references(toBlob: file.sha256) > 0 else {
                unlink(staged)
                return false
            }
            let target = blobs.path(forSHA256: file.sha256)
            do {
                try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                guard rename(staged, target) == 0 else { throw POSIXErrorText.current("rename a fetched file into the blob store") }
            } catch {
                unlink(staged)
                throw BlobStore.storageError(error)
            }
            try Self.releaseQuarantine(file.sha256, catalog: catalog, blobs: blobs)
            return true
        }
    }
}
