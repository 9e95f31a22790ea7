import Foundation
import IMGAPI
import NIOCore
import NIOFileSystem

/// Re-reads every stored file and checks its size, SHA-256 and SHA-1 against the catalog,
/// one file at a time and at most `bytesPerSecond`. A file that fails is quarantined (see
/// `ImageRepository.quarantine`).
public struct Scrub: Sendable {
    public struct Report: Sendable {
        /// Files read (quarantined ones are not read again).
        public var files = 0
        public var bytes: Int64 = 0
        /// Files this run quarantined.
        public var quarantined = 0
        /// Every quarantined file after the run, with its problem and images.
        public var problems: [(sha256: String, problem: String, images: [String])] = []

        public var clean: Bool { problems.isEmpty }

        public var json: JSONValue {
            .object(JSONObject([
                ("ok", .bool(clean)), ("files", .number(Double(files))), ("bytes", .number(Double(bytes))),
                ("quarantined", .number(Double(quarantined))),
                ("problems", .array(problems.map {
                    .object(JSONObject([("sha256", .string($0.sha256)), ("problem", .string($0.problem)),
                                        ("images", .array($0.images.map(JSONValue.string)))]))
                })),
            ]))
        }
    }

    /// Called after each file: files done, files in all, bytes read.
    public typealias Progress = @Sendable (_ done: Int, _ total: Int, _ bytes: Int64) -> Void

    let repository: ImageRepository
    /// Reading rate limit; nil reads as fast as the disk allows.
    let bytesPerSecond: Int64?
    let progress: Progress?

    public init(repository: ImageRepository, bytesPerSecond: Int64?, progress: Progress? = nil) {
        self.repository = repository
        self.bytesPerSecond = bytesPerSecond
        self.progress = progress
    }

    public func run() async throws -> Report {
        var report = Report()
        let files = try await repository.catalog.storedFiles()
        let started = ContinuousClock.now
        for (index, file) in files.enumerated() {
            try Task.checkCancellation()
            if try await repository.catalog.quarantineProblem(file.sha256) == nil {
                let (problem, identity) = try await check(file, report: &report, started: started)
                if let problem, try await repository.quarantine(file.sha256, problem: problem, ifStill: identity) {
                    report.quarantined += 1
                }
                report.files += 1
            }
            progress?(index + 1, files.count, report.bytes)
        }
        report.problems = try await repository.catalog.quarantined()
        return report
    }

    /// What is wrong with the stored copy of `file`, if anything, and which file was read.
    private func check(_ file: ImageFile, report: inout Report, started: ContinuousClock.Instant) async throws
        -> (problem: String?, identity: BlobStore.FileIdentity?) {
        let path = repository.blobs.path(forSHA256: file.sha256)
        let handle: ReadFileHandle
        do { handle = try await FileSystem.shared.openFile(forReadingAt: FilePath(path)) } catch {
            return ("the stored file is missing", nil)
        }
        var identity: BlobStore.FileIdentity?
        var digests = FileDigests()
        do {
            let info = try await handle.info()
            identity = info.platformSpecificStatus.map { BlobStore.FileIdentity(device: UInt64($0.st_dev), inode: UInt64($0.st_ino)) }
            guard info.size == file.size else {
                try await handle.close()
                return ("the stored file is \(info.size) bytes but should be \(file.size) bytes", identity)
            }
            for try await chunk in handle.readChunks(chunkLength: .mebibytes(1)) {
                digests.update(chunk)
                report.bytes += Int64(chunk.readableBytes)
                try await pace(report.bytes, since: started)
            }
            try await handle.close()
        } catch let error as CancellationError {
            try? await handle.close()
            throw error
        } catch {
            try? await handle.close()
            return ("the stored file cannot be read: \(error)", identity)
        }
        let found = digests.finalize()
        if found.sha256 != file.sha256 { return ("its SHA-256 is \(found.sha256), not \(file.sha256)", identity) }
        if found.sha1 != file.sha1 { return ("its SHA-1 is \(found.sha1), not \(file.sha1)", identity) }
        return (nil, identity)
    }

    /// Sleeps while more than `bytesPerSecond` were read on average.
    private func pace(_ bytes: Int64, since started: ContinuousClock.Instant) async throws {
        guard let bytesPerSecond, bytesPerSecond > 0 else { return }
        let due = started + .milliseconds(bytes * 1000 / bytesPerSecond)
        if due > .now { try await Task.sleep(until: due) }
    }
}
