import Foundation
import XCTest

/// The real `imgapid serve` in a child process, on 127.0.0.1 and a port it picks itself,
/// with its own temporary storage directory (kept across restarts of the same instance).
final class ServerProcess: @unchecked Sendable {
    let storage: URL
    let arguments: [String]
    private(set) var port = 0
    private var process: Process?
    private var output: Pipe?
    /// Every line the server wrote on standard output (its JSON request log).
    private(set) var logLines: [String] = []
    private let lock = NSLock()
    /// Whether this instance deletes the storage directory when it goes away.
    private var ownsStorage: Bool
    /// A command that runs `imgapid` (such as `prlimit --nofile=256:256 --`), if any.
    var launcher: [String] = []
    /// Whether the server checks ZFS image files as send streams. Off unless a test asks:
    /// most tests upload placeholder bytes, as the reference server's own tests do.
    var validatesStreams = false

    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// `extraArguments` go to `imgapid serve` after the storage and port options.
    init(_ extraArguments: [String] = [], storage: URL? = nil) throws {
        self.storage = try storage ?? Self.temporaryDirectory()
        ownsStorage = storage == nil
        arguments = extraArguments
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("imgapid-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// The built `imgapid`, next to the test bundle (`swift build --build-tests` puts both there).
    static var executable: URL {
        if let path = ProcessInfo.processInfo.environment["IMGAPID_BIN"] { return URL(fileURLWithPath: path) }
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        return packageRoot.appendingPathComponent(".build/debug/imgapid")
    }

    /// The built `imgpublish`, next to `imgapid`.
    static var imgpublish: URL {
        executable.deletingLastPathComponent().appendingPathComponent("imgpublish")
    }

    /// Runs `imgapid` (or another built program) with `arguments` to completion, killing it
    /// after `timeout` seconds; `environment` is added to this process's.
    static func run(_ arguments: [String], executable: URL = executable, environment: [String: String] = [:],
                    timeout: TimeInterval = 600) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout) { [process] in
            if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
        }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Starts the server and waits for its `listening` line.
    func start() throws {
        let process = Process()
        let command = launcher + [Self.executable.path, "serve", "--storage", storage.path, "--port", "0"]
            + (validatesStreams ? [] : ["--no-validate-streams"]) + arguments
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.standardError
        try process.run()
        self.process = process
        output = pipe
        let started = Date()
        var buffer = Data()
        while Date().timeIntervalSince(started) < 30 {
            let chunk = pipe.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            buffer.append(chunk)
            while let newline = buffer.firstIndex(of: 0x0A) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeSubrange(...newline)
                record(line)
                if line.contains("\"msg\":\"listening\""), let port = Self.port(in: line) {
                    self.port = port
                    drain(pipe, pending: buffer)
                    return
                }
            }
        }
        process.terminate()
        throw TestFailure("imgapid did not start: \(logLines.joined(separator: "\n"))")
    }

    /// Waits, at most `seconds`, for a log line that `matches`; true when one came.
    func waitForLogLine(within seconds: TimeInterval = 30, _ matches: (String) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if lock.withLock({ logLines.contains(where: matches) }) { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return false
    }

    private func record(_ line: String) {
        lock.withLock { logLines.append(line) }
    }

    /// Keeps reading the log so the server never blocks on a full pipe.
    private func drain(_ pipe: Pipe, pending: Data) {
        let pendingText = String(decoding: pending, as: UTF8.self)
        Thread.detachNewThread { [weak self] in
            var rest = pendingText
            while true {
                let data = pipe.fileHandleForReading.availableData
                if data.isEmpty { return }
                rest += String(decoding: data, as: UTF8.self)
                var lines = rest.components(separatedBy: "\n")
                rest = lines.removeLast()
                for line in lines { self?.record(line) }
            }
        }
    }

    private static func port(in line: String) -> Int? {
        guard let range = line.range(of: "\"port\":") else { return nil }
        return Int(line[range.upperBound...].prefix { $0.isNumber })
    }

    /// SIGTERM, then wait for the process to exit.
    func stop() {
        guard let process, process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    /// Sends `signal` and returns at once.
    func signal(_ signal: Int32) {
        guard let process, process.isRunning else { return }
        Foundation.kill(process.processIdentifier, signal)
    }

    /// SIGKILL: a crash, with no chance to clean up.
    func kill() {
        guard let process, process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// A new server process on the same storage (this one must be stopped), started.
    func restarted() throws -> ServerProcess {
        let next = try ServerProcess(arguments, storage: storage)
        next.ownsStorage = ownsStorage
        next.validatesStreams = validatesStreams
        ownsStorage = false
        try next.start()
        return next
    }

    /// The running server's peak resident set size (`VmHWM` in /proc).
    var peakResidentBytes: Int? {
        guard let pid = process?.processIdentifier,
              let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "") else { return nil }
        return kilobytes * 1024
    }

    var isRunning: Bool { process?.isRunning ?? false }

    var terminationStatus: Int32? {
        guard let process, !process.isRunning else { return nil }
        return process.terminationStatus
    }

    /// Files under the storage directory's `sub` folder, recursively.
    func files(under sub: String) -> [String] {
        let root = storage.appendingPathComponent(sub)
        guard let walker = FileManager.default.enumerator(atPath: root.path) else { return [] }
        return walker.compactMap { $0 as? String }.filter {
            var isDirectory: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: root.appendingPathComponent($0).path, isDirectory: &isDirectory)
            return exists && !isDirectory.boolValue
        }.sorted()
    }

    deinit {
        kill()
        if ownsStorage { try? FileManager.default.removeItem(at: storage) }
    }
}
