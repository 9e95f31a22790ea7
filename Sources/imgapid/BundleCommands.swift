import ArgumentParser
import Foundation
import HTTPSignature
import IMGAPI
import IMGAPIClient
import IMGAPIServer
import ImageStore
import Mirror

struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write images, with their origin chains, to an offline bundle for a site without network.",
        discussion: """
            Selects active and disabled images with the filters (all given filters must match; \
            repeated --name and --uuid are alternatives; none: every image) and writes them with \
            every origin they are built on, their manifests, icons and files, and an index of \
            every entry's size and SHA-256, as docs/bundle-format.md describes. --to names a \
            new tar file, or a directory (one that exists and is empty, or a path ending in /). \
            Each file is hashed as it is copied and must match the catalog: a damaged file \
            stops the export and removes what it wrote. It reads the storage only, so it runs \
            beside `imgapid serve`. Image files stay as they were published; --zstd compresses \
            the index. `imgapid import-bundle` reads the bundle.
            Exit status: 0 when the bundle is whole, 1 when it could not be written.

            Example: imgapid export --to /mnt/usb/base.tar --name base-64-lts --latest 1
            """)

    @Option(help: ArgumentHelp("The new bundle: a tar file, or a directory (empty, or a path ending in /).", valueName: "path"))
    var to: String

    @OptionGroup var selection: ImageSelection

    @OptionGroup var location: StorageOptions

    @Flag(help: "Compress the index with zstd.")
    var zstd = false

    @Flag(help: "Print the report as JSON.")
    var json = false

    func run() async throws {
        let server = try location.resolved()
        let repository = try ImageRepository(storage: server.storage, catalog: server.catalog, shared: try server.sharedBlobs(), mode: nil, access: .readOnly)
        var isFolder: ObjCBool = false
        let asDirectory = to.hasSuffix("/") || (FileManager.default.fileExists(atPath: to, isDirectory: &isFolder) && isFolder.boolValue)
        let path = asDirectory && to.count > 1 && to.hasSuffix("/") ? String(to.dropLast()) : to
        let report: BundleExport.Report
        let display = TransferProgress("export", enabled: isatty(STDERR_FILENO) == 1 && !json)
        defer { display.finish() }
        do {
            report = try await BundleExport(repository: repository, filter: selection.filter, compressIndex: zstd)
                .run(to: path, asDirectory: asDirectory, progress: display.update)
        } catch let error as BundleError {
            display.finish()
            FileHandle.standardError.write(Data("imgapid export: \(error)\n".utf8))
            throw ExitCode(1)
        }
        display.finish()
        if json {
            print(JSONValue.object(JSONObject([
                ("bundle", .string(path)), ("images", .array(report.images.map(JSONValue.string))),
                ("files", .number(Double(report.files))), ("bytes", .number(Double(report.bytes))),
            ])).prettyPrinted())
        } else {
            print("\(path): \(report.images.count) images, \(report.files) files (\(ByteSize.text(report.bytes))), all verified")
        }
    }
}

struct ImportBundleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-bundle",
        abstract: "Import the images of an offline bundle made by imgapid export.",
        discussion: """
            Checks the bundle's index, then reads every file and icon that the images not yet \
            here need, and checks each against the index and its manifest (size, SHA-256, SHA-1, \
            and files of ZFS image types as ZFS send streams with their origins) before any \
            image is added: a bundle with a changed byte, a missing file or a wrong index is \
            refused with the image and the entry at fault, and nothing from it is imported. \
            Then the images are added, origins first, keeping their uuids, owners, states and \
            channels (on a server with channels: those that exist here, else the default one). \
            Images already here are left as they are, so importing a bundle twice changes \
            nothing, and an import that was interrupted goes on where it stopped when run again \
            (the bytes it read are kept in the storage's partial/ and hashed again).
            It takes the storage's lock: stop `imgapid serve` on the same storage first, or \
            send the images to the running server with --to URL (signed with --user and --key \
            unless the server trusts this host's network): then every file is read and checked \
            before the first image is sent, the server checks each again, and its import rules \
            apply (outside dc mode the owner becomes the zero uuid; channels are its own).
            Exit status: 0 when every image of the bundle is here, 1 when the bundle was refused or an image could not be added.
            """)

    @Argument(help: "The bundle: a tar file or a directory.")
    var bundle: String

    @OptionGroup var location: StorageOptions

    @Option(help: ArgumentHelp("Send the images to this running IMGAPI server instead of writing a storage.", valueName: "url"))
    var to: String?

    @Option(help: "Sign requests to --to as this user (with --key).")
    var user: String?

    @Option(help: ArgumentHelp("OpenSSH private key to sign requests to --to with.", valueName: "file"))
    var key: String?

    @Flag(inversion: .prefixedNo, help: "Check files of ZFS image types as ZFS send streams (default: the config's validateStreams, else on).")
    var validateStreams: Bool?

    @Flag(help: "Print what happened to each image as JSON.")
    var json = false

    func validate() throws {
        if (user == nil) != (key == nil) { throw ValidationError("--user and --key go together") }
        if to != nil, location.storage != nil || location.config != nil { throw ValidationError("give --to or --storage, not both") }
        if to == nil, user != nil { throw ValidationError("--user and --key sign requests to --to") }
        if let to, (try? IMGAPIClient(url: to)) == nil { throw ValidationError("--to \(to) is not an http or https URL") }
    }

    func run() async throws {
        let outcomes: [BundleImport.Outcome]
        let display = TransferProgress("import-bundle", enabled: isatty(STDERR_FILENO) == 1 && !json)
        defer { display.finish() }
        do { outcomes = try await importBundle(progress: display.update) } catch let error as BundleError {
            display.finish()
            FileHandle.standardError.write(Data("imgapid import-bundle: \(error)\n".utf8))
            throw ExitCode(1)
        }
        display.finish()
        if json {
            print(JSONValue.array(outcomes.map { outcome in
                .object(JSONObject([("uuid", .string(outcome.uuid)), ("result", .string(outcome.result.rawValue)),
                                    ("bytes", .number(Double(outcome.bytes)))]))
            }).prettyPrinted())
        } else {
            for outcome in outcomes { print("\(outcome.result.rawValue.uppercased()) \(outcome.label)") }
            let imported = outcomes.filter { $0.result == .imported }
            print("\(imported.count) imported (\(ByteSize.text(imported.map(\.bytes).reduce(0, +)))), "
                  + "\(outcomes.count - imported.count) already here")
        }
    }

    private func importBundle(progress: @escaping BundleProgress) async throws -> [BundleImport.Outcome] {
        if let to {
            var signer: RequestSigner?
            if let user, let key {
                do { signer = RequestSigner(user: user, key: try SSHPrivateKey(pem: try String(contentsOfFile: key, encoding: .utf8))) } catch {
                    throw ValidationError("cannot use --key \(key): \(error)")
                }
            }
            return try await BundleUpload(client: try IMGAPIClient(url: to, signer: signer)).run(from: bundle, progress: progress)
        }
        let server = try location.resolved()
        let repository = try ImageRepository(storage: server.storage, catalog: server.catalog, shared: try server.sharedBlobs(), mode: nil)
        return try await BundleImport(repository: repository, validateStreams: validateStreams ?? server.validateStreams,
                                      placement: ChannelPlacement(local: server.channels, given: nil)).run(from: bundle, progress: progress)
    }
}
