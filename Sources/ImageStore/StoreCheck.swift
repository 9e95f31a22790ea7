import Foundation
import IMGAPI

/// `imgapid check`: what is wrong in a storage directory, read while holding its lock. With
/// `repair`, what is safe to change is changed (orphan and leftover files removed, missing
/// or resized files quarantined) and the rest is listed for the operator.
public struct StoreCheck: Sendable {
    /// One thing found, and whether `repair` dealt with it. A note is not a problem: it
    /// is listed, and leaves the exit status alone.
    public struct Finding: Sendable {
        public var kind: String
        public var subject: String
        public var detail: String
        public var repaired: Bool
        public var isNote = false

        public var json: JSONValue {
            .object(JSONObject([("kind", .string(kind)), ("subject", .string(subject)), ("detail", .string(detail)),
                                ("repaired", .bool(repaired)), ("note", .bool(isNote))]))
        }
    }

    let repository: ImageRepository
    let repair: Bool

    public init(repository: ImageRepository, repair: Bool) {
        self.repository = repository
        self.repair = repair
    }

    public func run() async throws -> [Finding] {
        var findings: [Finding] = []
        for problem in try await repository.catalog.integrityProblems() {
            findings.append(Finding(kind: "database", subject: "catalog.sqlite", detail: problem, repaired: false))
        }
        for uuid in try await repository.catalog.undecodableImages() {
            findings.append(Finding(kind: "manifest", subject: uuid, detail: "the stored manifest is not valid JSON: restore it from a backup or delete the image", repaired: false))
        }
        for (uuid, origin) in try await repository.catalog.imagesWithMissingOrigin() {
            findings.append(Finding(kind: "origin", subject: uuid, detail: "its origin \(origin) is not in the catalog: import the origin again", repaired: false))
        }
        for uuid in try await repository.catalog.imagesWithUnvalidatedStreams() {
            findings.append(Finding(kind: "unvalidated", subject: uuid,
                                    detail: "its file was accepted without a ZFS stream check (validateStreams was off)", repaired: false, isNote: true))
        }
        findings += try await checkFiles()
        findings += try await leftovers()
        for entry in try await repository.catalog.quarantined() {
            findings.append(Finding(kind: "quarantined", subject: entry.sha256,
                                    detail: "\(entry.problem) (images \(entry.images.joined(separator: ", "))): publish it again or run imgapid scrub --repair-from URL",
                                    repaired: false))
        }
        return findings
    }

    /// Every file the catalog names exists with its size (its digests are `scrub`'s work):
    /// in the object store, where there is one (a replica need not hold every file itself).
    private func checkFiles() async throws -> [Finding] {
        var findings: [Finding] = []
        for file in try await repository.catalog.storedFiles() where try await repository.catalog.quarantineProblem(file.sha256) == nil {
            if let shared = repository.blobs.shared {
                let stored = try await shared.size(of: file.sha256)
                if stored != file.size {
                    let problem = stored.map { "the object store's copy is \($0) bytes but should be \(file.size) bytes" }
                        ?? "the file is missing from the object store: restore it there, or publish the image again"
                    findings.append(Finding(kind: "shared", subject: file.sha256, detail: problem, repaired: false))
                }
            }
            let path = repository.blobs.path(forSHA256: file.sha256)
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value
            // A replica's missing copy is fetched when asked for: only a wrong one is a problem.
            guard size != file.size, size != nil || repository.blobs.shared == nil else { continue }
            let problem = size.map { "the stored file is \($0) bytes but should be \(file.size) bytes" } ?? "the stored file is missing"
            var repaired = false
            if repair {
                repaired = try await repository.quarantine(file.sha256, problem: problem, ifStill: BlobStore.FileIdentity.of(path))
            }
            findings.append(Finding(kind: "file", subject: file.sha256, detail: problem + (repaired ? " (quarantined)" : ""), repaired: repaired))
        }
        return findings
    }

    /// Files no image uses: blobs, quarantined copies, interrupted uploads, old partial downloads.
    private func leftovers() async throws -> [Finding] {
        let referenced = try await repository.catalog.referencedBlobs()
        let quarantined = Set(try await repository.catalog.quarantined().map(\.sha256))
        let blobs = repository.blobs
        var findings: [Finding] = []
        func leftover(_ kind: String, _ path: String, _ detail: String) {
            let removed = repair && (try? FileManager.default.removeItem(atPath: path)) != nil
            findings.append(Finding(kind: kind, subject: path, detail: detail + (removed ? " (removed)" : ""), repaired: removed))
        }
        for sha256 in blobs.storedBlobs() where !referenced.contains(sha256) {
            leftover("orphan", blobs.path(forSHA256: sha256), "no image uses this file")
        }
        for name in blobs.files(in: blobs.quarantineDirectory) where !quarantined.contains(name) || !referenced.contains(name) {
            leftover("orphan", "\(blobs.quarantineDirectory)/\(name)", "a quarantined copy no image needs")
        }
        for name in blobs.files(in: blobs.uploadsDirectory) {
            leftover("leftover", "\(blobs.uploadsDirectory)/\(name)", "an upload that never finished")
        }
        let dayAgo = Date().addingTimeInterval(-86_400)
        for name in blobs.files(in: blobs.partialDirectory) {
            let path = "\(blobs.partialDirectory)/\(name)"
            let modified = (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date) ?? .distantPast
            if modified < dayAgo { leftover("leftover", path, "a partial download untouched for over a day") }
        }
        return findings
    }
}
