import Foundation
import XCTest

/// The real `imgapid serve` in a child process, on 127.0.0.1 and a port it picks itself,
/// with its own temporary storage directory (kept across restarts of the same instance).
final class ServerProcess: @unchecked Sendable {
    let storage: URL
    let arguments: [String]
    private(set) var port = 0
    private var process: ChildProcess?
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

    /// The options that point an `imgapid` tool (mirror, check, …) at this server's store.
    var storageOptions: [String] { ["--storage", storage.path] + (catalog.map { ["--catalog", $0] } ?? []) }

    /// The PostgreSQL database holding the catalog (`TestPostgres.catalogsOnPostgres`), if any.
    let catalog: String?

    /// `extraArguments` go to `imgapid serve` after the storage and port options. With
    /// `TestPostgres.catalogsOnPostgres`, the catalog is `catalog`, else a new database.
    init(_ extraArguments: [String] = [], storage: URL? = nil, catalog: String? = nil) throws {
        self.storage = try storage ?? Self.temporaryDirectory()
        ownsStorage = storage == nil
        arguments = extraArguments
        self.catalog = try catalog ?? (TestPostgres.catalogsOnPostgres ? TestPostgres.newDatabase() : nil)
    }

    /// A new directory, removed when the test process exits (`TemporaryDirectories`).
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("imgapid-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        TemporaryDirectories.register(url)
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
        try ChildProcess.run(executable.path, arguments,
                             environment: ProcessInfo.processInfo.environment.merging(environment) { $1 }, timeout: timeout)
    }

    /// Starts the server and waits for its `listening` line.
    func start() throws {
        let command = launcher + [Self.executable.path, "serve", "--storage", storage.path, "--port", "0"]
            + (validatesStreams ? [] : ["--no-validate-streams"]) + (catalog.map { ["--catalog", $0] } ?? []) + arguments
        let fds = try ChildProcess.pipe()
        let process: ChildProcess
        do { process = try ChildProcess(command[0], Array(command.dropFirst()), stdout: fds[1], stderr: STDERR_FILENO) } catch {
            close(fds[0]); close(fds[1])
            throw error
        }
        close(fds[1])
        self.process = process
        let output = FileHandle(fileDescriptor: fds[0], closeOnDealloc: true)
        let started = Date()
        var buffer = Data()
        while Date().timeIntervalSince(started) < 30 {
            let chunk = output.availableData
            if chunk.isEmpty { break }
            buffer.append(chunk)
            while let newline = buffer.firstIndex(of: 0x0A) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeSubrange(...newline)
                record(line)
                if line.contains("\"msg\":\"listening\""), let port = Self.port(in: line) {
                    self.port = port
                    drain(output, pending: buffer)
                    return
                }
            }
        }
        process.signal(SIGTERM)
        process.wait()
        throw TestFailure("imgapid did not start: \(logLines.joined(separator: "\n"))")
    }

    /// Every log line so far. Lines wait a few milliseconds to be written together, so a
    /// request made now is waited for first: every earlier line is out then.
    func settledLogLines() async throws -> [String] {
        let marker = UUID().uuidString
        expect(try await TestClient(self).get("/ping?marker=\(marker)"), status: 200)
        XCTAssertTrue(waitForLogLine { $0.contains(marker) }, "the marker request was logged")
        return logLines
    }

    /// Waits, at most `seconds`, for `count` log lines that `matches`; true when they came.
    func waitForLogLine(count: Int = 1, within seconds: TimeInterval = 30, _ matches: (String) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if lock.withLock({ logLines.filter(matches).count >= count }) { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return false
    }

    private func record(_ line: String) {
        lock.withLock { logLines.append(line) }
    }

    /// Keeps reading the log so the server never blocks on a full pipe.
    private func drain(_ output: FileHandle, pending: Data) {
        let pendingText = String(decoding: pending, as: UTF8.self)
        Thread.detachNewThread { [weak self] in
            var rest = pendingText
            while true {
                // Complete lines first: those that came with the `listening` line are recorded
                // at once, not when the server next writes something.
                var lines = rest.components(separatedBy: "\n")
                rest = lines.removeLast()
                for line in lines { self?.record(line) }
                let data = output.availableData
                if data.isEmpty { return }
                rest += String(decoding: data, as: UTF8.self)
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
        process.signal(SIGTERM)
        process.wait()
    }

    /// Sends `signal` and returns at once.
    func signal(_ signal: Int32) {
        process?.signal(signal)
    }

    /// SIGKILL: a crash, with no chance to clean up.
    func kill() {
        guard let process, process.isRunning else { return }
        process.signal(SIGKILL)
        process.wait()
    }

    /// A new server process on the same storage (this one must be stopped), started.
    func restarted() throws -> ServerProcess {
        let next = try ServerProcess(arguments, storage: storage, catalog: catalog)
        next.ownsStorage = ownsStorage
        next.validatesStreams = validatesStreams
        ownsStorage = false
        try next.start()
        return next
    }

    /// The running server's peak resident set size (`VmHWM` in /proc).
    var peakResidentBytes: Int? {
        guard let pid = process?.pid,
              let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "") else { return nil }
        return kilobytes * 1024
    }

    var isRunning: Bool { process?.isRunning ?? false }

    var terminationStatus: Int32? { process?.terminationStatus }

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

/// The directories the tests made, removed when the test process exits. XCTest keeps every
/// test case, and so every server it holds, alive until then, so no deinit would remove
/// them: a whole run left about 1.7 GB behind in /tmp.
enum TemporaryDirectories {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var made: [String] = []

    static func register(_ url: URL) {
        lock.withLock {
            if made.isEmpty { atexit { TemporaryDirectories.removeAll() } }
            made.append(url.path)
        }
    }

    private static func removeAll() {
        for path in lock.withLock({ made }) { try? FileManager.default.removeItem(atPath: path) }
    }
}
