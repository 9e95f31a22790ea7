import ArgumentParser

@main
struct Imgapid: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "imgapid",
        abstract: "An IMGAPI image repository for SmartOS and Triton.",
        discussion: """
            Serves images to `imgadm` (sources, avail, import) and accepts publishes \
            (`imgadm publish`, imgpublish). Manifests live in SQLite, files on disk by SHA-256, \
            every file verified on the way in.
            """,
        subcommands: [Serve.self, Keys.self, MirrorCommand.self, ScrubCommand.self, CheckCommand.self, BackupCommand.self, RestoreCommand.self,
                      ExportCommand.self, ImportBundleCommand.self, MigrateCommand.self])
}
