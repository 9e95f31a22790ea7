import ArgumentParser
import Foundation
import IMGAPI
import IMGAPIClient
import IMGAPIServer
import ImageStore
import Mirror

struct ScrubCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scrub",
        abstract: "Re-read every stored file and check it against the catalog; quarantine the bad ones.",
        discussion: """
            Checks each file's size, SHA-256 and SHA-1. A file that fails (rotted, truncated, \
            missing) is moved to <storage>/quarantine: its images stay listed, and their file \
            answers 503 "failed verification" until a verified copy comes back, by publishing \
            or mirroring the same file again, or with --repair-from.

            It takes the storage's lock: a running server scrubs by itself instead (config \
            keys scrubInterval and scrubRate).
            Exit status: 0 when every file is good (or repaired), 1 when some file is quarantined.
            """)

    @OptionGroup var location: StorageOptions

    @Option(help: ArgumentHelp("Read at most this many MB per second (default: as fast as the disk allows).", valueName: "MB/s"))
    var rate: Int?

    @Option(name: .customLong("repair-from"), help: ArgumentHelp("Fetch quarantined files from this IMGAPI server and put them back once verified.", valueName: "url"))
    var repairFrom: String?

    @Flag(help: "Print the report as JSON.")
    var json = false

    func validate() throws {
        if let rate, rate < 1 { throw ValidationError("--rate must be at least 1 (MB/s)") }
        if let repairFrom, (try? IMGAPIClient(url: repairFrom)) == nil { throw ValidationError("--repair-from \(repairFrom) is not an http or https URL") }
    }

    func run() async throws {
        let server = try location.resolved()
        let repository = try ImageRepository(storage: server.storage, catalog: server.catalog, shared: try server.sharedBlobs(), mode: nil)
        let terminal = isatty(STDERR_FILENO) == 1 && !json
        let scrub = Scrub(repository: repository, bytesPerSecond: rate.map { Int64($0) * 1_000_000 }) { done, total, bytes in
            guard terminal else { return }
            FileHandle.standardError.write(Data("\r\u{1B}[Kscrub: \(done)/\(total) files, \(ByteSize.text(bytes))".utf8))
        }
        var report = try await scrub.run()
        if terminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        var repairs: [(sha256: String, error: String?)] = []
        if let repairFrom, !report.problems.isEmpty {
            repairs = try await QuarantineRepair(repository: repository).run(from: try IMGAPIClient(url: repairFrom))
            report.problems = try await repository.catalog.quarantined()
        }
        if json {
            var object = report.json.objectValue ?? JSONObject()
            if repairFrom != nil {
                object["repairs"] = .array(repairs.map {
                    var item = JSONObject([("sha256", .string($0.sha256)), ("repaired", .bool($0.error == nil))])
                    if let error = $0.error { item["error"] = .string(error) }
                    return .object(item)
                })
            }
            print(JSONValue.object(object).prettyPrinted())
        } else {
            for problem in report.problems {
                print("QUARANTINED \(problem.sha256) (\(problem.images.joined(separator: ", "))): \(problem.problem)")
            }
            for repair in repairs { print(repair.error.map { "NOT REPAIRED \(repair.sha256): \($0)" } ?? "REPAIRED \(repair.sha256)") }
            print("\(report.files) files checked (\(ByteSize.text(report.bytes))), \(report.quarantined) newly quarantined, "
                  + "\(report.problems.count) quarantined in all")
        }
        if !report.clean { throw ExitCode(1) }
    }
}
