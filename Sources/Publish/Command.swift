import Foundation

/// A program run to completion: `zfs list`, `zfs snapshot`, `zfs get`.
enum Command {
    struct Failure: Error, CustomStringConvertible {
        let command: String
        let status: Int32
        let output: String
        var description: String {
            let said = output.trimmingCharacters(in: .whitespacesAndNewlines)
            return "`\(command)` failed (exit \(status))" + (said.isEmpty ? "" : ": \(said)")
        }
    }

    /// Runs `arguments` (found on PATH) and returns its standard output; throws with its
    /// standard error when it exits non-zero. Reads its output on threads of their own, and
    /// waits to the end even when the calling task is cancelled.
    @discardableResult
    static func run(_ arguments: [String]) async throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        let finished = AsyncStream<Int32> { continuation in
            process.terminationHandler = { continuation.yield($0.terminationStatus); continuation.finish() }
        }
        try process.run()
        async let out = OwnThread.run("imgpublish-stdout") { output.fileHandleForReading.readDataToEndOfFile() }
        async let err = OwnThread.run("imgpublish-stderr") { errors.fileHandleForReading.readDataToEndOfFile() }
        // Waited for in a task of its own: a cancelled (interrupted) publish must still know
        // how a `zfs snapshot` it started ended.
        let status = await Task {
            var status: Int32 = -1
            for await code in finished { status = code }
            return status
        }.value
        let (stdout, stderr) = try await (out, err)
        guard status == 0 else {
            throw Failure(command: arguments.joined(separator: " "), status: status, output: String(decoding: stderr, as: UTF8.self))
        }
        return String(decoding: stdout, as: UTF8.self)
    }
}
