import Foundation
import XCTest

/// A real ZFS pool (zfs-fuse) backed by a file in a temporary directory, destroyed at the
/// end. Tests needing ZFS fail when it cannot be had under CI=true, and skip elsewhere.
final class ZFSPool {
    let name: String
    let directory: URL
    var mountpoint: URL { directory.appendingPathComponent("mnt") }

    init() throws {
        guard Self.usable else {
            let why = "ZFS is not available: the zfs-fuse daemon must run (scripts/test starts it, as root)"
            if ProcessInfo.processInfo.environment["CI"] == "true" { throw TestFailure(why) }
            throw XCTSkip(why)
        }
        name = "imgt" + String(UUID().uuidString.prefix(8)).lowercased()
        directory = try ServerProcess.temporaryDirectory()
        let file = directory.appendingPathComponent("pool").path
        try Self.shell("truncate -s 512M '\(file)' && zpool create -m '\(mountpoint.path)' \(name) '\(file)'")
    }

    /// Whether the daemon answers. It is never started from here (see scripts/zfs-daemon).
    static var usable: Bool {
        getuid() == 0 && (try? shell("pgrep -x zfs-fuse && zpool list")) != nil
    }

    /// Runs a shell command line; throws with its output when it fails.
    @discardableResult
    static func shell(_ command: String) throws -> String {
        let (status, output) = try ChildProcess.run("/bin/sh", ["-c", command], timeout: 300)
        guard status == 0 else { throw TestFailure("`\(command)` failed: \(output)") }
        return output
    }

    /// Where a dataset of this pool is mounted.
    func path(_ dataset: String) -> URL {
        mountpoint.appendingPathComponent(String(dataset.dropFirst(name.count + 1)))
    }

    /// zfs-fuse refuses to destroy a pool for a moment after a `zfs receive` into it: try again.
    func destroy() {
        for _ in 0..<10 {
            if (try? Self.shell("zpool destroy -f \(name)")) != nil { break }
            Thread.sleep(forTimeInterval: 0.5)
        }
        try? FileManager.default.removeItem(at: directory)
    }
}
