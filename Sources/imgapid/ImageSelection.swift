import ArgumentParser
import IMGAPI
import Mirror

/// The filters that choose images for `imgapid mirror` and `imgapid export`: every given
/// filter must match; repeated --name and --uuid are alternatives.
struct ImageSelection: ParsableArguments {
    @Option(name: .customLong("name"), help: ArgumentHelp("Image name, or ~substring (repeatable).", valueName: "name"))
    var names: [String] = []

    @Option(help: "Only images of this os (smartos, linux, ...).")
    var os: String?

    @Option(help: "Only images of this type (zone-dataset, lx-dataset, zvol, ...).")
    var type: String?

    @Option(help: ArgumentHelp("Only images published at or after this date (ISO 8601, e.g. 2024-01-01).", valueName: "date"))
    var since: String?

    @Option(help: ArgumentHelp("Only the newest N versions of each name.", valueName: "n"))
    var latest: Int?

    @Option(name: .customLong("uuid"), help: ArgumentHelp("Only this image (repeatable).", valueName: "uuid"))
    var uuids: [String] = []

    func validate() throws {
        if let latest, latest < 1 { throw ValidationError("--latest must be at least 1") }
        if let since, sinceMilliseconds(since) == nil {
            throw ValidationError("--since \(since): not a date (use 2024-01-31 or 2024-01-31T12:00:00Z)")
        }
        for uuid in uuids where !ImageUUID.isValid(uuid) { throw ValidationError("--uuid \(uuid): not an image uuid") }
    }

    var filter: MirrorFilter {
        var filter = MirrorFilter()
        filter.names = names.map(ListImagesQuery.TextMatch.init)
        filter.os = os
        filter.type = type
        filter.since = since.flatMap(sinceMilliseconds)
        filter.latest = latest
        filter.uuids = uuids
        return filter
    }

    private func sinceMilliseconds(_ text: String) -> Int64? {
        Timestamp.milliseconds(fromISO8601: text) ?? Timestamp.milliseconds(fromISO8601: text + "T00:00:00Z")
    }
}
