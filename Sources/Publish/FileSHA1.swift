import Crypto
import Foundation
import IMGAPI

/// The SHA-1 of a file, read in 1 MiB pieces on a thread of its own.
enum FileSHA1 {
    static func of(_ path: String) async throws -> String {
        try await OwnThread.run("imgpublish-sha1") { try digest(path) }
    }

    private static func digest(_ path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw CocoaError(.fileReadNoPermission) }
        defer { try? handle.close() }
        var sha1 = Insecure.SHA1()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty { sha1.update(data: chunk) }
        return Hex.encode(sha1.finalize())
    }
}
