import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A program the tests run, started with posix_spawn and reaped with waitpid. Foundation's
/// Process watches each child through a socket that other children started meanwhile
/// inherit, and its exit can then go unnoticed for as long as they live: a test hung in
/// `waitUntilExit` behind a zombie. Here nothing but the child's own pipes reaches it (every
/// other descriptor is closed in it), and the exit is read from the kernel.
final class ChildProcess: @unchecked Sendable {
    let pid: pid_t
    private let lock = NSLock()
    private var exitStatus: Int32?

    /// Starts `executable` with `arguments`; its standard output (and error, unless
    /// `stderr` is given) goes to `stdout`, standard input is /dev/null.
    init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
         stdout: Int32, stderr: Int32? = nil) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr ?? stdout, 2)
        _ = Self.addCloseFrom(&actions, 3)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let env = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + env).forEach { free($0) } }
        var child: pid_t = 0
        let result = posix_spawn(&child, executable, &actions, nil, argv, env)
        guard result == 0 else { throw TestFailure("cannot start \(executable): \(String(cString: strerror(result)))") }
        pid = child
    }

    /// Runs a program to its end, at most `timeout` seconds (then it is killed), and returns
    /// its exit status and everything it printed.
    static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                    timeout: TimeInterval) throws -> (status: Int32, output: String) {
        let fds = try pipe()
        let child: ChildProcess
        do { child = try ChildProcess(executable, arguments, environment: environment, stdout: fds[1]) } catch {
            close(fds[0]); close(fds[1])
            throw error
        }
        close(fds[1])
        let output = FileHandle(fileDescriptor: fds[0], closeOnDealloc: true)
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout) { [child] in child.signal(SIGKILL) }
        let data = output.readDataToEndOfFile()
        return (child.wait(), String(decoding: data, as: UTF8.self))
    }

    /// Starts a program whose standard output (and error, unless `stderr` is given) goes to a
    /// pipe: the caller reads `output`, or closes it, or leaves it unread.
    static func withOutput(_ executable: String, _ arguments: [String], stderr: Int32? = nil) throws -> (process: ChildProcess, output: FileHandle) {
        let fds = try pipe()
        let child: ChildProcess
        do { child = try ChildProcess(executable, arguments, stdout: fds[1], stderr: stderr) } catch {
            close(fds[0]); close(fds[1])
            throw error
        }
        close(fds[1])
        return (child, FileHandle(fileDescriptor: fds[0], closeOnDealloc: true))
    }

    /// Starts a program with its output thrown away.
    static func quiet(_ executable: String, _ arguments: [String]) throws -> ChildProcess {
        let devNull = open("/dev/null", O_WRONLY | O_CLOEXEC)
        defer { close(devNull) }
        return try ChildProcess(executable, arguments, stdout: devNull)
    }

    /// Waits at most `seconds` for the exit; true when it exited.
    func wait(within seconds: TimeInterval) -> Bool {
        let exited = DispatchSemaphore(value: 0)
        DispatchQueue.global().async { self.wait(); exited.signal() }
        return exited.wait(timeout: .now() + seconds) == .success
    }

    /// A pipe whose ends are close-on-exec from the start, so that no child started
    /// meanwhile holds it open: `[read, write]`.
    static func pipe() throws -> [Int32] {
        var fds: [Int32] = [0, 0]
        guard pipe2(&fds, O_CLOEXEC) == 0 else { throw TestFailure("pipe2: \(String(cString: strerror(errno)))") }
        return fds
    }

    // glibc's `pipe2` and `posix_spawn_file_actions_addclosefrom_np` need _GNU_SOURCE, which
    // Swift's Glibc module leaves out: looked up at run time.
    private static let pipe2 = unsafeBitCast(dlsym(UnsafeMutableRawPointer(bitPattern: 0), "pipe2"),
                                             to: (@convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32).self)
    private static let addCloseFrom = unsafeBitCast(
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np"),
        to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)

    var isRunning: Bool { terminationStatus == nil }

    /// The exit status (128 + N after signal N, as a shell says it) once the child ended.
    var terminationStatus: Int32? {
        lock.withLock {
            if exitStatus == nil { reap(WNOHANG) }
            return exitStatus
        }
    }

    /// Waits for the exit and returns the exit status.
    @discardableResult
    func wait() -> Int32 {
        if let status = lock.withLock({ exitStatus }) { return status }
        var raw: Int32 = 0
        var result: pid_t
        repeat { result = waitpid(pid, &raw, 0) } while result == -1 && errno == EINTR
        return lock.withLock {
            if result == pid { exitStatus = Self.decode(raw) }
            return exitStatus ?? -1
        }
    }

    /// Collects the exit without blocking, when there is one (call holding `lock`).
    private func reap(_ options: Int32) {
        var raw: Int32 = 0
        if waitpid(pid, &raw, options) == pid { exitStatus = Self.decode(raw) }
    }

    private static func decode(_ raw: Int32) -> Int32 {
        let signal = raw & 0x7F
        return signal == 0 ? (raw >> 8) & 0xFF : 128 + signal
    }

    func signal(_ number: Int32) {
        if isRunning { Glibc.kill(pid, number) }
    }
}
