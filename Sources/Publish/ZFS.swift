/// The `zfs` commands publishing needs (works with zfs-fuse, which lacks `zfs list -p`).
public enum ZFS {
    public static func exists(_ name: String) async -> Bool {
        (try? await Command.run(["zfs", "list", "-H", "-o", "name", "-t", "all", name])) != nil
    }

    public static func snapshot(_ name: String) async throws {
        try await Command.run(["zfs", "snapshot", name])
    }

    public static func destroy(_ snapshot: String) async throws {
        try await Command.run(["zfs", "destroy", snapshot])
    }

    /// The snapshot's guid, as `files[0].dataset_guid` records it.
    public static func guid(_ snapshot: String) async throws -> String {
        try await Command.run(["zfs", "get", "-Hp", "-o", "value", "guid", snapshot])
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The pool of a dataset: its first path component.
    public static func pool(of dataset: String) -> String {
        String(dataset.split(separator: "/").first ?? Substring(dataset))
    }
}
