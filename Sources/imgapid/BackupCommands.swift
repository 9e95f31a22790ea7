import ArgumentParser
import Foundation
import IMGAPI
import IMGAPIServer
import ImageStore

/// Options and output shared by `imgapid backup` and `imgapid restore`.
struct StoreCopyOutput: ParsableArguments {
    @Flag(help: "Print the report as JSON.")
    var json = false

    func run(_ copy: StoreCopy) async throws {
        let report: StoreCopy.Report
        do { report = try await copy.run() } catch let error as StoreCopyError { throw ValidationError(error.description) }
        if json {
            print(report.json.prettyPrinted())
        } else {
            for bad in report.bad { print("BAD \(bad.sha256): \(bad.problem) (quarantined in the copy)") }
            for uuid in report.dropped { print("DROPPED \(uuid): deleted from \(copy.source) while the copy ran") }
            print("\(copy.destination): \(report.images) images, \(report.files) files (\(ByteSize.text(report.bytes))), all verified"
                  + (report.bad.isEmpty ? "" : ", \(report.bad.count) bad"))
        }
        if !report.bad.isEmpty { throw ExitCode(1) }
    }
}

struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Copy a storage directory, even while its server runs, into a new directory.",
        discussion: """
            The catalog is copied as it is at one moment (SQLite's online backup: the server \
            goes on serving and accepting publishes), then the file of every image in it, hard \
            linked when DEST is on the same file system (instant, but the blocks are shared: \
            back up to another disk to survive its loss), else copied; each file is hashed \
            against the catalog first. Images deleted while the copy runs are left out; an image \
            whose file is damaged or missing is kept, its file quarantined in the copy. Keys \
            come along. `imgapid restore` puts a backup back.
            Exit status: 0 when every file verified, 1 when some did not (they are quarantined in the copy).
            """)

    @Argument(help: "The new directory to write the backup to (must not exist or be empty).")
    var destination: String

    @OptionGroup var location: StorageOptions

    @OptionGroup var output: StoreCopyOutput

    func run() async throws {
        try await output.run(StoreCopy(from: try location.resolved().storage, to: destination))
    }
}

struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Put a backup back as a storage directory.",
        discussion: """
            Copies the backup at SOURCE (catalog, verified files, keys) into --storage, which \
            must not exist or be empty; then start `imgapid serve` on it.
            Exit status: 0 when every file verified, 1 when some did not (they are quarantined).
            """)

    @Argument(help: "The backup directory (made by imgapid backup).")
    var source: String

    @OptionGroup var location: StorageOptions

    @OptionGroup var output: StoreCopyOutput

    func run() async throws {
        try await output.run(StoreCopy(from: source, to: try location.resolved().storage))
    }
}
