import AsyncHTTPClient
import Foundation
import IMGAPI
import NIOCore
import NIOFileSystem
import ObjectStorage

/// The shared copy of every stored file, in S3-compatible object storage, for replicas
/// (`blobs` setting). Objects are keyed by SHA-256 (`blobs/sha256/<2 hex>/<64 hex>` under the
/// location's prefix), so equal files are stored once. A file reaches the object store only
/// once verified in the replica's own `uploads/`; the replica's `blobs/` is then a cache that
/// can be lost: a file missing there is fetched again, verified, on its next download.
public struct SharedBlobs: Sendable {
    public let client: S3Client

    public init(client: S3Client) {
        self.client = client
    }

    /// The object key of a file, below the location's prefix (which the client adds).
    func key(_ sha256: String) -> String {
        "blobs/sha256/\(sha256.prefix(2))/\(sha256)"
    }

    /// Uploads the verified file at `path` (streamed from disk; multipart above one part).
    public func upload(_ path: String, sha256: String) async throws {
        do {
            try await FileSystem.shared.withFileHandle(forReadingAt: FilePath(path)) { handle in
                try await client.upload(key(sha256), from: handle.readChunks(chunkLength: .mebibytes(1)))
            }
        } catch {
            throw Self.unavailable("store the file \(sha256) in", error)
        }
    }

    /// The size of the object store's copy of a file; nil when it has none.
    func size(of sha256: String) async throws -> Int64? {
        do { return try await client.headObject(key(sha256))?.size } catch { throw Self.unavailable("ask for the file \(sha256) in", error) }
    }

    /// Makes sure the object store holds `sha256` with `size` bytes, uploading the local copy
    /// at `path` when it does not. Blocking: for `Catalog.exclusive`, where an image's file
    /// must be in the shared store before the transaction that makes the image use it.
    func ensure(_ sha256: String, size: Int64, from path: String) throws {
        try Self.blocking {
            if try await client.headObject(key(sha256))?.size == size { return }
            try await upload(path, sha256: sha256)
        }
    }

    /// Removes the object of a file no image uses any more. Blocking, like `ensure`.
    func remove(_ sha256: String) throws {
        try Self.blocking {
            do { try await client.deleteObject(key(sha256)) } catch { throw Self.unavailable("remove the file \(sha256) from", error) }
        }
    }

    /// The bytes of a file (of `range` of it), streamed; nil when the object store does not have it.
    public func read(_ sha256: String, range: Range<Int64>? = nil) async throws -> HTTPClientResponse.Body? {
        do {
            return try await client.getObject(key(sha256), range: range).body
        } catch let error as S3Error where error.status == 404 {
            return nil
        } catch {
            throw Self.unavailable("read the file \(sha256) from", error)
        }
    }

    /// Fetches the object into `path`, checking its size and SHA-256 on the way; false when
    /// the object store does not have it. The file at `path` is left only when it verified.
    func fetch(_ sha256: String, size: Int64, to path: String) async throws -> Bool {
        guard let response = try await read(sha256) else { return false }
        do {
            var verifier = BlobVerifier(sha256: sha256)
            var received: Int64 = 0
            try await FileSystem.shared.withFileHandle(
                forWritingAt: FilePath(path), options: .newFile(replaceExisting: true)
            ) { handle in
                var writer = handle.bufferedWriter(capacity: .mebibytes(1))
                for try await chunk in response {
                    received += Int64(chunk.readableBytes)
                    guard received <= size else { break }
                    verifier.update(chunk)
                    try await writer.write(contentsOf: chunk)
                }
                try await writer.flush()
            }
            guard received == size, verifier.matches() else {
                throw IMGAPIError.storageIsDown("the object store's copy of file \(sha256) does not match its SHA-256 or size: restore it from a backup or publish the image again")
            }
            return true
        } catch {
            unlink(path)
            throw error is IMGAPIError ? error : Self.unavailable("fetch the file \(sha256) from", error)
        }
    }

    /// Files in the shared store last written more than `age` ago (candidates for removal
    /// when no image uses them), by SHA-256.
    func files(olderThan age: Duration) async throws -> [String] {
        let cutoff = Date().addingTimeInterval(-Double(age.components.seconds))
        do {
            return try await client.listObjects(under: "blobs/sha256/").filter { $0.lastModified < cutoff }
                .compactMap { $0.key.split(separator: "/").last.map(String.init) }.filter { $0.count == 64 }
        } catch {
            throw Self.unavailable("list the files in", error)
        }
    }

    /// Runs async object-store work from a blocking caller (a catalog writer's own thread).
    static func blocking(_ body: @escaping @Sendable () async throws -> Void) throws {
        let outcome = OutcomeBox()
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            do { try await body() } catch { outcome.set(error) }
            done.signal()
        }
        done.wait()
        if let error = outcome.error { throw error }
    }

    static func unavailable(_ action: String, _ error: any Error) -> IMGAPIError {
        if let error = error as? IMGAPIError { return error }
        return IMGAPIError.storageIsDown("cannot \(action) the object store: \(error); check that it is reachable and that the credentials allow it")
    }

    private final class OutcomeBox: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: (any Error)?
        func set(_ error: any Error) { lock.withLock { stored = error } }
        var error: (any Error)? { lock.withLock { stored } }
    }
}
