import ArgumentParser
import Foundation
import IMGAPI
import IMGAPIServer
import ImageStore
import Mirror

struct MirrorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mirror",
        abstract: "Copy images from other IMGAPI servers (images.smartos.org or any IMGAPI) into the local repository.",
        discussion: """
            Lists each upstream catalog, selects images with the filters (all given filters must \
            match; repeated --name and --uuid are alternatives), and copies each missing image \
            with its whole origin chain, base first, keeping its uuid, owner, publish time and \
            state. Every file is checked against the upstream sha1 and size (and Content-MD5) \
            before it is stored. Interrupted downloads resume with Range where the upstream \
            allows it; transient errors are retried. A second run copies nothing new, and \
            brings images it mirrored before up to date with upstream changes (description, \
            tags, disabled state, icon, channels...) without fetching their files again.

            On a server with channels (read from --config), copies go to --channel, else to \
            their upstream channels that exist here, else to the default channel; an origin \
            also joins the channels of the images built on it.

            It takes the storage's lock: stop `imgapid serve` on the same storage first, or \
            let the server run the mirror itself (config key "mirrors").
            Exit status: 0 when every selected image is here, 1 when some image or source failed.

            Example: imgapid mirror --from https://images.smartos.org --name base-64-lts --latest 2
            """)

    @Option(name: .customLong("from"), help: ArgumentHelp("Upstream IMGAPI URL, optionally with ?channel=NAME (repeatable).", valueName: "url"))
    var sources: [String] = []

    @OptionGroup var selection: ImageSelection

    @Option(help: "Channel to read upstream (sent as ?channel=), and the local channel copies go to.")
    var channel: String?

    @OptionGroup var location: StorageOptions

    @Option(help: ArgumentHelp("Images copied at the same time.", valueName: "n"))
    var concurrency = 2

    @Flag(help: "Show what would be copied or pruned; change nothing.")
    var dryRun = false

    @Flag(help: "Delete local images mirrored from these upstreams that the upstreams no longer have (never images published here).")
    var prune = false

    @Flag(inversion: .prefixedNo, help: "Check files of ZFS image types as ZFS send streams (default: the config's validateStreams, else on).")
    var validateStreams: Bool?

    @Flag(help: "Print the summary as JSON.")
    var json = false

    func validate() throws {
        guard !sources.isEmpty else { throw ValidationError("give at least one --from URL") }
        guard (1...32).contains(concurrency) else { throw ValidationError("--concurrency must be between 1 and 32") }
    }

    func run() async throws {
        let filter = selection.filter
        let server = try location.resolved()
        if let problem = ChannelPlacement.problem(local: server.channels, given: channel) {
            throw ValidationError("--channel \(channel ?? ""): \(problem)")
        }
        let repository = try ImageRepository(storage: server.storage, catalog: server.catalog, shared: try server.sharedBlobs(), mode: nil, access: dryRun ? .readOnly : .write)
        let display = MirrorProgress(enabled: isatty(STDERR_FILENO) == 1 && !json)
        var options = MirrorRun.Options(sources: sources, filter: filter, channel: channel, localChannels: server.channels,
                                        concurrency: concurrency, dryRun: dryRun, prune: prune)
        options.validateStreams = validateStreams ?? server.validateStreams
        let report = await MirrorRun(repository: repository, options: options, events: display.handle).run()
        display.finish()
        if json {
            print(report.json.prettyPrinted())
        } else {
            printSummary(report)
        }
        if !report.succeeded { throw ExitCode(1) }
    }

    func printSummary(_ report: MirrorRun.Report) {
        for outcome in report.outcomes where outcome.result != .present {
            let label = outcome.result.rawValue.uppercased()
            print("\(label) \(outcome.uuid) \(outcome.name)@\(outcome.version)" + (outcome.error.map { ": \($0)" } ?? ""))
        }
        for failure in report.failedSources { print("FAILED source \(failure.source): \(failure.error)") }
        let bytes = report.outcomes.filter { $0.result == .copied }.map(\.bytes).reduce(0, +)
        print("\(report.count(.copied)) copied (\(ByteSize.text(bytes))), \(report.count(.updated)) updated, "
              + "\(report.count(.present)) already here, \(report.count(.failed)) failed" + (prune ? ", \(report.count(.pruned)) pruned" : "")
              + (dryRun ? " (dry run: \(report.count(.wouldCopy)) would be copied, \(report.count(.wouldUpdate)) updated, "
                 + "\(report.count(.wouldPrune)) pruned)" : ""))
    }
}
