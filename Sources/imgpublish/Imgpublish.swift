import ArgumentParser
import Foundation
import HTTPSignature
import IMGAPI
import IMGAPIClient
import Publish

@main
struct Imgpublish: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "imgpublish",
        abstract: "Publish a ZFS dataset (or an existing image file) to an IMGAPI server.",
        discussion: """
            Snapshots DATASET, streams `zfs send` through the compressor to the server while \
            computing its SHA-1 and SHA-256 (no temporary file), checks what the server stored \
            against what was sent, and activates the image. Any failure after the image was \
            created deletes it again; a snapshot this run made is destroyed unless --keep-snapshot.

            Examples:
              imgpublish zones/build/base --url http://imgapi:8080 --name base-64 --version 24.1.0 \\
                  --manifest base.json --set requirements.min_ram=1024
              imgpublish zones/build/app --url http://imgapi:8080 --name app --version 1.0.0 \\
                  --origin 8f1f3d2e-6c1b-4f4e-9a55-2b7c1d0e9a01 --incremental
              imgpublish --manifest app-1.0.0.json --file app-1.0.0.zfs.gz --url http://imgapi:8080

            Exit status: 0 published; 1 failed (the message names the step); 64 bad usage; \
            130 or 143 stopped by SIGINT or SIGTERM (the image deleted again, the snapshot destroyed).
            """)

    @Argument(help: "The dataset to publish (omit with --file).")
    var dataset: String?

    @Option(help: ArgumentHelp("The IMGAPI server (a trailing ?channel=NAME is honoured).", valueName: "url"))
    var url: String?

    @Option(help: "Image name (else the manifest's).")
    var name: String?

    @Option(help: "Image version (else the manifest's).")
    var version: String?

    @Option(help: ArgumentHelp("Base manifest (JSON): os, type, description, requirements, tags, ...", valueName: "file"))
    var manifest: String?

    @Option(name: .customLong("set"), help: ArgumentHelp("A manifest field, dotted keys allowed; VALUE is JSON when it parses (repeatable).", valueName: "key=value"))
    var settings: [String] = []

    @Option(help: "Image uuid (default: a new random one, or the manifest's).")
    var uuid: String?

    @Option(help: ArgumentHelp("The image this one is built on.", valueName: "uuid"))
    var origin: String?

    @Flag(help: "Send only the difference from the origin's snapshot (zfs send -i).")
    var incremental = false

    @Option(help: ArgumentHelp("The origin's snapshot on this host (default <pool>/<origin>@final).", valueName: "snapshot"))
    var originSnapshot: String?

    @Option(help: ArgumentHelp("Use this existing snapshot of DATASET (the part after @).", valueName: "name"))
    var snapshot: String?

    @Flag(help: "Keep the snapshot this run creates.")
    var keepSnapshot = false

    @Option(help: "gzip (parallel, default), xz, bzip2 or none.")
    var compression = "gzip"

    @Option(help: "Sign requests as this user (with --key).")
    var user: String?

    @Option(help: ArgumentHelp("OpenSSH private key to sign with (RSA, ECDSA, Ed25519).", valueName: "file"))
    var key: String?

    @Option(help: ArgumentHelp("Publish this existing image file with --manifest (no ZFS).", valueName: "file"))
    var file: String?

    @Option(help: ArgumentHelp("Write NAME-VERSION.json and the stream here instead of uploading.", valueName: "dir"))
    var output: String?

    @Option(help: ArgumentHelp("Fail when no byte of the upload moves for this long (default 120); a slow upload that keeps moving has no deadline.", valueName: "seconds"))
    var stallTimeout = 120

    @Flag(name: .shortAndLong, help: "Print nothing on success.")
    var quiet = false

    @Flag(help: "Print the final manifest as JSON.")
    var json = false

    @Flag(help: "Say what would be done, do nothing.")
    var dryRun = false

    func validate() throws {
        guard (dataset == nil) != (file == nil) else { throw ValidationError("give either DATASET or --file") }
        if file != nil, manifest == nil { throw ValidationError("--file needs --manifest") }
        if url == nil, output == nil { throw ValidationError("give --url (or --output)") }
        guard ImageCompression(rawValue: compression) != nil else {
            throw ValidationError("--compression \(compression): stock imgadm handles only \(ImageCompression.allowedValues)")
        }
        if incremental, origin == nil { throw ValidationError("--incremental needs --origin") }
        guard (1...86_400).contains(stallTimeout) else { throw ValidationError("--stall-timeout must be 1 to 86400 seconds") }
        if (user == nil) != (key == nil) { throw ValidationError("--user and --key go together") }
        if let url, (try? IMGAPIClient(url: url)) == nil { throw ValidationError("--url \(url) is not an http or https URL") }
        for value in [uuid, origin].compactMap({ $0 }) where !ImageUUID.isValid(value) {
            throw ValidationError("\(value) is not a lower-case image uuid")
        }
    }

    func run() async throws {
        let progress = PublishProgress(enabled: !quiet && !json && isatty(STDERR_FILENO) == 1)
        do {
            let plan = try makePlan()
            if dryRun {
                print(describe(plan))
                return
            }
            let client = try url.map { try IMGAPIClient(url: $0, signer: try signer(), userAgent: "imgpublish") }
            let publisher = Publisher(plan: plan, client: output == nil ? client : nil, progress: progress.update)
            let publishing = Task { try await publisher.run() }
            let stops = StopSignals { publishing.cancel() }
            let published: JSONObject
            do { published = try await publishing.value } catch where stops.caught != nil {
                progress.finish()
                FileHandle.standardError.write(Data("imgpublish: interrupted: nothing was published (\(error))\n".utf8))
                throw ExitCode(128 + (stops.caught ?? SIGINT))
            }
            progress.finish()
            if json {
                print(published.prettyPrinted())
            } else if !quiet {
                let where_ = output.map { "written to \($0)" } ?? "published to \(client?.baseURL ?? "")"
                print("\(plan.uuid) \(published["name"]?.stringValue ?? "")@\(published["version"]?.stringValue ?? "") \(where_)")
            }
        } catch let error as PublishError {
            progress.finish()
            FileHandle.standardError.write(Data("imgpublish: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }

    func signer() throws -> RequestSigner? {
        guard let user, let key else { return nil }
        do {
            let text = try String(contentsOfFile: key, encoding: .utf8)
            return RequestSigner(user: user, key: try SSHPrivateKey(pem: text))
        } catch {
            throw PublishError(step: "key", "cannot use --key \(key): \(error)")
        }
    }

    func makePlan() throws -> PublishPlan {
        var fields = JSONObject()
        if let manifest {
            let bytes: Data
            do { bytes = try Data(contentsOf: URL(fileURLWithPath: manifest)) } catch {
                throw PublishError(step: "manifest", "cannot read \(manifest): \(error)")
            }
            guard let object = try? JSONValue.parse(Array(bytes)).objectValue else {
                throw ValidationError("--manifest \(manifest): not a JSON object")
            }
            fields = object
        }
        for setting in settings {
            guard let equals = setting.firstIndex(of: "=") else { throw ValidationError("--set \(setting): use KEY=VALUE") }
            let key = String(setting[..<equals])
            let text = String(setting[setting.index(after: equals)...])
            let value = (try? JSONValue.parse(Array(text.utf8))) ?? .string(text)
            fields = ManifestPath.setting(fields, key.split(separator: ".").map(String.init), to: value)
        }
        if let name { fields["name"] = .string(name) }
        if let version { fields["version"] = .string(version) }
        if let origin { fields["origin"] = .string(origin) }
        fields["uuid"] = .string(uuid ?? fields["uuid"]?.stringValue ?? ImageUUID.random())
        if fields["v"] == nil { fields["v"] = .number(2) }
        if fields["owner"] == nil { fields["owner"] = .string(ImageUUID.zero) }
        if fields["type"] == nil { fields["type"] = .string("zone-dataset") }
        if fields["os"] == nil { fields["os"] = .string("smartos") }
        for ignored in ["state", "published_at", "activated"] { fields[ignored] = nil }
        guard fields["name"]?.stringValue != nil, fields["version"]?.stringValue != nil else {
            throw ValidationError("give --name and --version (or a manifest that has them)")
        }
        let source: PublishPlan.Source
        if let file {
            source = .file(path: file, described: fields["files"]?.arrayValue?.first?.objectValue)
        } else {
            source = .dataset(name: dataset!, snapshot: snapshot, keepSnapshot: keepSnapshot)
        }
        // A file already compressed says how in its manifest; a value imgadm cannot read is refused here.
        var chosen = ImageCompression(rawValue: compression) ?? .gzip
        if file != nil, let declared = fields["files"]?.arrayValue?.first?.objectValue?["compression"] {
            guard let text = declared.stringValue, let value = ImageCompression(rawValue: text) else {
                throw ValidationError("the manifest's files[0].compression \(declared.compact()): stock imgadm handles only \(ImageCompression.allowedValues)")
            }
            chosen = value
        }
        fields["files"] = nil
        return PublishPlan(source: source, manifest: fields, compression: chosen,
                           incremental: incremental, originSnapshot: originSnapshot, outputDirectory: output,
                           stallTimeout: .seconds(stallTimeout))
    }

    func describe(_ plan: PublishPlan) -> String {
        var lines = ["would publish \(plan.uuid) \(plan.manifest["name"]?.stringValue ?? "")@\(plan.manifest["version"]?.stringValue ?? "")"]
        switch plan.source {
        case .dataset(let name, let snapshot, let keep):
            lines.append("  snapshot: \(name)@\(snapshot ?? "imgpublish-\(plan.uuid)")" + (snapshot == nil && !keep ? " (made, then destroyed)" : ""))
            if plan.incremental { lines.append("  zfs send -i \(plan.originSnapshot ?? "<pool>/\(plan.origin ?? "")@final")") }
        case .file(let path, _):
            lines.append("  file: \(path)")
        }
        lines.append("  compression: \(plan.compression.rawValue)")
        lines.append(output.map { "  output: \($0)" } ?? "  server: \(url ?? "")")
        lines.append(plan.manifest.prettyPrinted())
        return lines.joined(separator: "\n")
    }
}
