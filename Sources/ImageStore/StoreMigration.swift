import Foundation
import IMGAPI
import NIOFileSystem

/// Copies every image of one repository into another of another kind (`imgapid migrate`):
/// a SQLite catalog and a directory into PostgreSQL and S3-compatible storage, or back.
/// Each image goes over with its file, icon and mirror source in one catalog transaction,
/// its file verified against the SHA-256 and SHA-1 the source records on the way in, its
/// origins first. Resumable: images the destination already has are skipped, so a run cut
/// short is simply run again. The source is only read.
public struct StoreMigration: Sendable {
    public struct Report: Sendable {
        public var copied = 0
        /// Images the destination already had (an earlier run).
        public var present = 0
        public var bytes: Int64 = 0
        /// Images that could not be copied, with why (a quarantined or missing file, an origin that failed).
        public var failed: [(uuid: String, problem: String)] = []

        public var json: JSONValue {
            .object(JSONObject([
                ("ok", .bool(failed.isEmpty)), ("copied", .number(Double(copied))), ("present", .number(Double(present))),
                ("bytes", .number(Double(bytes))),
                ("failed", .array(failed.map { .object(JSONObject([("uuid", .string($0.uuid)), ("problem", .string($0.problem))])) })),
            ]))
        }
    }

    /// Called after each image: images done, images in all.
    public typealias Progress = @Sendable (_ done: Int, _ total: Int) -> Void

    let source: ImageRepository
    let destination: ImageRepository
    let progress: Progress?

    public init(from source: ImageRepository, to destination: ImageRepository, progress: Progress? = nil) {
        self.source = source
        self.destination = destination
        self.progress = progress
    }

    public func run() async throws -> Report {
        var query = ListImagesQuery()
        query.state = .all
        let listed = try await source.catalog.listRecords(query, authenticated: true)
        var report = Report()
        report.failed = listed.undecodable.map { ($0, "its stored manifest cannot be read") }
        let mirrored = try await source.catalog.mirrorSources()
        let present = try await destination.catalog.present(listed.records.compactMap { $0["uuid"]?.stringValue })
        var done = Set(present)
        report.present = present.count
        var pending = listed.records.filter { !present.contains($0["uuid"]?.stringValue ?? "") }
        let total = listed.records.count
        // Origins first: each pass copies the images whose origin is here (or that have none).
        while !pending.isEmpty {
            let (ready, waiting) = pending.reduce(into: ([JSONObject](), [JSONObject]())) { split, record in
                let origin = record["origin"]?.stringValue
                if origin == nil || done.contains(origin!) { split.0.append(record) } else { split.1.append(record) }
            }
            guard !ready.isEmpty else {
                report.failed += waiting.map { ($0["uuid"]?.stringValue ?? "", "its origin \($0["origin"]?.stringValue ?? "") could not be copied") }
                break
            }
            for record in ready {
                let uuid = record["uuid"]?.stringValue ?? ""
                do {
                    report.bytes += try await copy(record, mirroredFrom: mirrored[uuid])
                    report.copied += 1
                    done.insert(uuid)
                } catch {
                    report.failed.append((uuid, "\(error)"))
                }
                progress?(done.count + report.failed.count, total)
            }
            pending = waiting
        }
        return report
    }

    /// Copies one image; returns the bytes of its file.
    private func copy(_ record: JSONObject, mirroredFrom: String?) async throws -> Int64 {
        let uuid = record["uuid"]?.stringValue ?? ""
        let icon = record["icon"]?.boolValue == true ? try await source.catalog.icon(uuid) : nil
        guard let file = record.imageFiles.first else {
            // An image that never got its file (unactivated): its manifest alone.
            var files = record
            files["files"] = .array([])
            let bare = files
            try await destination.catalog.exclusive { catalog in
                guard try !catalog.exists(uuid) else { throw IMGAPIError.imageUuidAlreadyExists(uuid) }
                try catalog.transaction {
                    if let icon { try catalog.setIcon(uuid, icon) }
                    try catalog.save(bare)
                    if let mirroredFrom { try catalog.recordMirrorSource(uuid, mirroredFrom) }
                }
            }
            return 0
        }
        if let problem = try await source.catalog.quarantineProblem(file.sha256) {
            throw StoreMigrationError("its file is quarantined in the source (\(problem)): repair it there first (`imgapid scrub --repair-from URL`)")
        }
        let staged = try await received(file)
        try await destination.addImported(record, file: .staged(staged, expected: .init(sha1: file.sha1, sha256: file.sha256, size: file.size)),
                                          compression: file.compression, datasetGUID: file.datasetGUID, stream: file.stream,
                                          icon: icon, mirroredFrom: mirroredFrom, mtime: file.mtime)
        return file.size
    }

    /// The source's file received into the destination's `uploads/`, digested: from the
    /// source's local copy, else its shared one, streamed.
    private func received(_ file: ImageFile) async throws -> StagedBlob {
        let path = source.blobs.path(forSHA256: file.sha256)
        if FileManager.default.fileExists(atPath: path) {
            return try await FileSystem.shared.withFileHandle(forReadingAt: FilePath(path)) { handle in
                try await destination.blobs.receive(handle.readChunks(chunkLength: .mebibytes(1)), maxSize: file.size, expectedSize: file.size)
            }
        }
        guard let body = try await source.blobs.shared?.read(file.sha256) else {
            throw StoreMigrationError("its file \(file.sha256) is missing from the source")
        }
        return try await destination.blobs.receive(body, maxSize: file.size, expectedSize: file.size)
    }
}

/// Why `imgapid migrate` could not copy an image.
public struct StoreMigrationError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
