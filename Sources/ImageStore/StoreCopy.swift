import Foundation
import IMGAPI
#if canImport(Glibc)
import Glibc
#endif

/// A consistent, verified copy of a storage directory into a new one (`imgapid backup`,
/// `imgapid restore`), taken while a server may go on writing the source: the catalog as
/// it was at one moment (SQLite's online backup), then the file of every image in it, hard
/// linked when both are on one file system, else copied, and each hashed against the
/// catalog before it enters the copy. Keys come along.
public struct StoreCopy: Sendable {
    public struct Report: Sendable {
        public var images = 0
        public var files = 0
        public var bytes: Int64 = 0
        /// Images deleted from the source while the copy ran: their file and their record were
        /// gone, so the copy drops them too. (An image whose file is damaged is kept, its file quarantined.)
        public var dropped: [String] = []
        /// Files that failed verification: quarantined in the copy, with their problem.
        public var bad: [(sha256: String, problem: String)] = []

        public var json: JSONValue {
            .object(JSONObject([
                ("ok", .bool(bad.isEmpty)), ("images", .number(Double(images))), ("files", .number(Double(files))),
                ("bytes", .number(Double(bytes))), ("dropped", .array(dropped.map(JSONValue.string))),
                ("bad", .array(bad.map { .object(JSONObject([("sha256", .string($0.sha256)), ("problem", .string($0.problem))])) })),
            ]))
        }
    }

    public let source: String
    public let destination: String

    public init(from source: String, to destination: String) {
        self.source = source
        self.destination = destination
    }

    /// Makes the copy; the destination must not exist or be empty.
    public func run() async throws -> Report {
        let sourceCatalog = source + "/catalog.sqlite"
        guard FileManager.default.fileExists(atPath: sourceCatalog) else {
            throw StoreCopyError("\(source) holds no catalog.sqlite: give the storage directory of an imgapid server, or a backup")
        }
        if let entries = try? FileManager.default.contentsOfDirectory(atPath: destination), !entries.isEmpty {
            throw StoreCopyError("\(destination) is not empty: copy into a new directory")
        }
        try FileManager.default.createDirectory(atPath: destination, withIntermediateDirectories: true)
        try Catalog(readingAt: sourceCatalog).backup(to: destination + "/catalog.sqlite")
        let copy = try ImageRepository(storage: destination, mode: nil)
        var report = Report()
        let from = try BlobStore(root: source, creating: false)
        var unreadable: [(file: ImageFile, problem: String, staged: String?)] = []
        for file in try await copy.catalog.storedFiles() {
            if try await copy.catalog.quarantineProblem(file.sha256) != nil {
                try? FileManager.default.createDirectory(atPath: copy.blobs.quarantineDirectory, withIntermediateDirectories: true)
                try? place(from.quarantineDirectory + "/" + file.sha256, at: copy.blobs.quarantineDirectory + "/" + file.sha256)
                continue
            }
            let staged = copy.blobs.uploadsDirectory + "/" + file.sha256
            let placed = (try? place(from.path(forSHA256: file.sha256), at: staged)) != nil
            let outcome = placed ? try await StoredFileReader.digest(staged, expectedSize: file.size) : .missing
            guard case .read(let digests, _) = outcome else {
                unreadable.append((file, StoredFileReader.problem(outcome, for: file)?.problem ?? "unreadable", placed ? staged : nil))
                continue
            }
            _ = try copy.blobs.install(StagedBlob(path: staged, digests: digests))
            report.files += 1
            report.bytes += digests.size
            if let (problem, identity) = StoredFileReader.problem(outcome, for: file) {
                try await copy.quarantine(file.sha256, problem: problem, ifStill: identity ?? BlobStore.FileIdentity.of(copy.blobs.path(forSHA256: file.sha256)))
                report.bad.append((file.sha256, problem))
            }
        }
        // A file that could not be read was deleted with its images after the catalog was
        // copied, or it is damaged: asked now, the source says which.
        let stillUsed = unreadable.isEmpty ? [] : try await Catalog(readingAt: sourceCatalog).referencedBlobs()
        var gone = Set<String>()
        for entry in unreadable {
            if stillUsed.contains(entry.file.sha256) {
                try await keepQuarantined(entry.file.sha256, problem: entry.problem, staged: entry.staged, in: copy)
                report.bad.append((entry.file.sha256, entry.problem))
            } else {
                if let staged = entry.staged { unlink(staged) }
                gone.insert(entry.file.sha256)
            }
        }
        report.dropped = try await dropImages(using: gone, in: copy)
        report.images = try await copy.catalog.imageCount()
        try copyKeys()
        return report
    }

    /// A hard link of `path` at `target`, or a copy when they are on different file systems.
    private func place(_ path: String, at target: String) throws {
        if link(path, target) == 0 { return }
        guard errno == EXDEV || errno == EPERM || errno == EMLINK else { throw POSIXErrorText.current("link \(path)") }
        try FileManager.default.copyItem(atPath: path, toPath: target)
    }

    /// Records in the copy that the file `sha256` is damaged, keeping its images; the damaged
    /// bytes, when they could be placed at `staged`, go to the copy's quarantine folder.
    private func keepQuarantined(_ sha256: String, problem: String, staged: String?, in copy: ImageRepository) async throws {
        if let staged {
            try FileManager.default.createDirectory(atPath: copy.blobs.quarantineDirectory, withIntermediateDirectories: true)
            guard rename(staged, copy.blobs.quarantineDirectory + "/" + sha256) == 0 else {
                throw POSIXErrorText.current("move a damaged file to the copy's quarantine")
            }
        }
        try await copy.catalog.exclusive { catalog in try catalog.quarantine(sha256, problem: problem) }
    }

    /// Deletes from the copy the images whose file vanished from the source meanwhile
    /// (deleted there after the catalog was copied), with their descendants, children first.
    private func dropImages(using vanished: Set<String>, in copy: ImageRepository) async throws -> [String] {
        guard !vanished.isEmpty else { return [] }
        return try await copy.catalog.exclusive { catalog in
            var doomed = Set(try vanished.flatMap { try catalog.imagesUsing(blob: $0) })
            var frontier = Array(doomed)
            while let uuid = frontier.popLast() {
                for child in try catalog.dependents(of: uuid) where doomed.insert(child).inserted { frontier.append(child) }
            }
            var dropped: [String] = []
            while dropped.count < doomed.count {
                let ready = try doomed.subtracting(dropped).filter { try catalog.dependents(of: $0).isEmpty }
                guard !ready.isEmpty else { break }
                for uuid in ready.sorted() {
                    try catalog.transaction { try catalog.delete(uuid) }
                    dropped.append(uuid)
                }
            }
            return dropped.sorted()
        }
    }

    private func copyKeys() throws {
        let keys = source + "/authkeys"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: keys) else { return }
        try FileManager.default.createDirectory(atPath: destination + "/authkeys", withIntermediateDirectories: true)
        for name in names where name.hasSuffix(".keys") || name.hasSuffix(".owner") {
            try FileManager.default.copyItem(atPath: keys + "/" + name, toPath: destination + "/authkeys/" + name)
        }
    }
}

/// Why a store could not be copied, in a sentence for the operator.
public struct StoreCopyError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
