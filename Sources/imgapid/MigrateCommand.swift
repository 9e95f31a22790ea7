import ArgumentParser
import Foundation
import IMGAPI
import IMGAPIServer
import ImageStore
import ObjectStorage

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Copy every image into a repository of another kind: onto PostgreSQL and S3 for replicas, or back.",
        discussion: """
            Reads the repository that --config, --storage, --catalog and --blobs name (it is \
            only read, so its server may go on serving) and copies each image, with its file, \
            icon and mirror source, into the repository that --to-storage, --to-catalog and \
            --to-blobs name: origins first, each image and its file in one transaction, each \
            file verified against the SHA-256 and SHA-1 the source records. Images the \
            destination already has are skipped: a run cut short is run again to finish.

            Onto replicas: imgapid migrate --storage /var/lib/imgapid --to-storage /var/lib/imgapid-replica \\
              --to-catalog postgres://imgapid@db/imgapid --to-blobs 's3://images/prod?endpoint=https://s3.example&region=eu-1'
            Back: imgapid migrate --storage /var/lib/imgapid-replica --catalog postgres://imgapid@db/imgapid \\
              --blobs 's3://images/prod?endpoint=https://s3.example&region=eu-1' --to-storage /var/lib/imgapid-local

            --to-storage is the new repository's data directory (for replicas, the first \
            replica's); no server may run on it meanwhile. Keys (authkeys/) are not copied: \
            copy the directory, or give them in the config's authKeys. Passwords go in \
            PGPASSWORD, S3 credentials in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or the \
            config's blobsCredentialsFile) for both sides.
            Exit status: 0 when every image was copied (or already there), 1 when some could not be.
            """)

    @OptionGroup var location: StorageOptions

    @Option(help: ArgumentHelp("The new repository's data directory.", valueName: "dir"))
    var toStorage: String

    @Option(help: ArgumentHelp("Its catalog in PostgreSQL, postgres://USER@HOST[:PORT]/DATABASE (default: catalog.sqlite in --to-storage).", valueName: "url"))
    var toCatalog: String?

    @Option(help: ArgumentHelp("Its files' shared copy in S3-compatible storage, s3://BUCKET[/PREFIX]?endpoint=URL&region=REGION (default: none).", valueName: "url"))
    var toBlobs: String?

    @Flag(help: "Print the report as JSON.")
    var json = false

    func run() async throws {
        let from = try location.resolved()
        var to = from
        to.storage = toStorage
        to.catalog = try toCatalog.map(PostgresLocation.commandLine)
        do { to.blobs = try toBlobs.map { try S3Location(parsing: $0) } } catch { throw ValidationError("--to-blobs: \(error)") }
        guard URL(fileURLWithPath: to.storage).standardizedFileURL != URL(fileURLWithPath: from.storage).standardizedFileURL else {
            throw ValidationError("--to-storage must be another data directory than the source's \(from.storage)")
        }
        guard to.catalog != from.catalog || to.blobs != from.blobs || from.catalog == nil else {
            throw ValidationError("the destination shares the source's catalog and object store: there is nothing to migrate")
        }
        let source = try ImageRepository(storage: from.storage, catalog: from.catalog, shared: try from.sharedBlobs(), mode: nil,
                                         access: .readOnly)
        let destination = try ImageRepository(storage: to.storage, catalog: to.catalog, shared: try to.sharedBlobs(),
                                              mode: source.mode)
        let terminal = isatty(STDERR_FILENO) == 1 && !json
        let report = try await StoreMigration(from: source, to: destination) { done, total in
            guard terminal else { return }
            FileHandle.standardError.write(Data("\r\u{1B}[Kmigrate: \(done)/\(total) images".utf8))
        }.run()
        if terminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        if json {
            print(report.json.prettyPrinted())
        } else {
            for failure in report.failed { print("FAILED \(failure.uuid): \(failure.problem)") }
            print("\(report.copied) images copied (\(ByteSize.text(report.bytes))), \(report.present) already there, "
                  + "\(report.failed.count) failed")
        }
        if !report.failed.isEmpty { throw ExitCode(1) }
    }
}
