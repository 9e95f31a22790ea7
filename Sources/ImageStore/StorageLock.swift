import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The right to write one storage directory: the file `lock` in it, held with flock(2) for
/// as long as the process has the storage open. One process writes a storage at a time, so
/// a mirror run beside the server cannot lose files to the other's clean-up. The holder
/// writes its pid and command into the file, for the message a second writer gets.
final class StorageLock: Sendable {
    private let descriptor: Int32

    init(storage: String) throws {
        let path = storage + "/lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw POSIXErrorText.current("open \(path)") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder = Self.read(fd)
            close(fd)
            throw StorageInUse(storage: storage, holder: holder)
        }
        descriptor = fd
        let holder = "pid \(getpid()): \(CommandLine.arguments.joined(separator: " "))"
        _ = ftruncate(fd, 0)
        _ = holder.withCString { pwrite(fd, $0, strlen($0), 0) }
    }

    deinit { close(descriptor) }

    private static func read(_ fd: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 512)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        return n > 0 ? String(decoding: buffer[..<n], as: UTF8.self) : "another process"
    }
}

/// Another process holds the storage (see `StorageLock`).
public struct StorageInUse: Error, CustomStringConvertible {
    public let storage: String
    /// The holder's pid and command, as it recorded them.
    public let holder: String

    public var description: String {
        "the storage \(storage) is in use by another imgapid (\(holder)): one process writes a storage at a time; "
            + "stop that one first, or let the running server do the work (config key \"mirrors\" for scheduled mirroring)"
    }
}
