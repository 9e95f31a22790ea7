import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Space set aside on the storage's disk (the file `reserve`), so that images can still be
/// deleted when the disk is full: a delete needs room in the catalog's journal before it
/// frees any file. A delete that finds the disk full gives the reserve up and tries again;
/// the reserve is made anew once there is room.
public struct DiskReserve: Sendable {
    public static let size = 8 * 1024 * 1024
    let path: String

    init(storage: String) {
        path = storage + "/reserve"
    }

    /// Whether the reserve holds its full size on disk.
    public var isInPlace: Bool {
        var info = stat()
        return stat(path, &info) == 0 && Int(info.st_size) >= Self.size && Int(info.st_blocks) * 512 >= Self.size
    }

    /// Makes the reserve when it is missing; false when the disk has no room for it.
    /// Blocking: call at start or inside `Catalog.exclusive`.
    @discardableResult
    func restore() -> Bool {
        if isInPlace { return true }
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var result = posix_fallocate(fd, 0, off_t(Self.size))
        if result == EOPNOTSUPP || result == EINVAL { result = fill(fd) }
        if result != 0 {
            unlink(path)
            return false
        }
        return fsync(fd) == 0
    }

    /// Writes the reserve out where the file system cannot preallocate, with bytes that do
    /// not compress (a compressing file system would store zeros in no space); an errno or 0.
    private func fill(_ fd: Int32) -> Int32 {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        var chunk = [UInt8](repeating: 0, count: 65536)
        for _ in 0..<(Self.size / chunk.count) {
            for i in chunk.indices {
                state ^= state << 13; state ^= state >> 7; state ^= state << 17
                chunk[i] = UInt8(truncatingIfNeeded: state)
            }
            let written = chunk.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written != chunk.count { return written < 0 ? errno : ENOSPC }
        }
        return 0
    }

    /// Frees the reserved space; false when there was none to free.
    func release() -> Bool {
        unlink(path) == 0
    }
}
