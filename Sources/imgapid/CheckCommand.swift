import ArgumentParser
import Foundation
import IMGAPI
import IMGAPIServer
import ImageStore

struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check a storage directory: catalog, files, origins, leftovers.",
        discussion: """
            Runs SQLite's integrity check, and checks that every file the catalog names is \
            there with its size, that every origin is in the catalog, and that no file is left \
            over (blobs no image uses, unfinished uploads, partial downloads older than a day). \
            Quarantined files and manifests that do not parse are listed. Digests are \
            `imgapid scrub`'s work.

            With --repair, what is safe to change is changed: leftover files are removed, and \
            missing or resized files quarantined. Everything else is listed with what to do.
            It takes the storage's lock: stop `imgapid serve` first.
            Exit status: 0 when nothing is wrong (or all of it was repaired), 1 otherwise.
            """)

    @OptionGroup var location: StorageOptions

    @Flag(help: "Remove leftover files and quarantine missing or resized ones.")
    var repair = false

    @Flag(help: "Print the findings as JSON.")
    var json = false

    func run() async throws {
        let server = try location.resolved()
        guard server.catalog != nil || FileManager.default.fileExists(atPath: server.storage + "/catalog.sqlite") else {
            throw ValidationError("\(server.storage) holds no catalog.sqlite: give the storage directory of an imgapid server")
        }
        let repository = try ImageRepository(storage: server.storage, catalog: server.catalog, shared: try server.sharedBlobs(), mode: nil)
        let findings = try await StoreCheck(repository: repository, repair: repair).run()
        let remaining = findings.filter { !$0.repaired && !$0.isNote }
        if json {
            print(JSONValue.object(JSONObject([
                ("ok", .bool(remaining.isEmpty)), ("findings", .array(findings.map(\.json))),
            ])).prettyPrinted())
        } else {
            for finding in findings {
                print("\(finding.isNote ? "NOTE" : finding.repaired ? "REPAIRED" : "PROBLEM") \(finding.kind) \(finding.subject): \(finding.detail)")
            }
            let repaired = findings.filter(\.repaired).count
            print(remaining.isEmpty && repaired == 0 ? "\(server.storage): no problem found"
                                                     : "\(repaired) repaired, \(remaining.count) problems left")
        }
        if !remaining.isEmpty { throw ExitCode(1) }
    }
}
