import Foundation

/// A small tmpfs (needs root), so that a server storing on it runs out of disk for real.
final class TmpfsMount {
    let path: URL

    init(megabytes: Int) throws {
        path = try ServerProcess.temporaryDirectory()
        try ZFSPool.shell("mount -t tmpfs -o size=\(megabytes)m tmpfs '\(path.path)'")
    }

    func unmount() {
        _ = try? ZFSPool.shell("umount '\(path.path)'")
        try? FileManager.default.removeItem(at: path)
    }
}
