import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where log lines go: a bounded queue drained by one writer thread, so that a slow, full
/// or closed standard output never blocks or kills request handling. Lines that do not
/// fit, or that the sink refuses (EPIPE, ENOSPC), are dropped and counted; once writing
/// works again a `log lines dropped` line says how many. The sink is standard output or,
/// after `useFile`, a file reopened on SIGHUP.
final class LogSink: @unchecked Sendable {
    private let condition = NSCondition()
    private var pending: [String] = []
    private var pendingBytes = 0
    private var dropped = 0
    /// Lines dropped since start, for metrics.
    private var droppedInAll = 0
    private var descriptor: Int32
    /// The log file, when lines go to one rather than to standard output.
    private var path: String?
    private var reopenRequested = false
    /// The writer thread waits for a first line: only then does a line need to wake it.
    private var writerIdle = false
    /// The writer thread is writing a batch taken from `pending`.
    private var writing = false
    private var reopensOnHangup = false
    /// Most bytes waiting to be written; beyond that, new lines are dropped.
    private let capacity: Int
    /// Seconds the writer thread lets lines gather after each write.
    private static let gathering = 0.005

    init(descriptor: Int32, capacity: Int = 4 * 1024 * 1024) {
        self.descriptor = descriptor
        self.capacity = capacity
        let thread = Thread { [unowned self] in self.drain() }
        thread.name = "imgapid-log"
        thread.start()
    }

    /// Queues one line (with its newline); never waits for the sink.
    func write(_ line: String) {
        condition.lock()
        defer { condition.unlock() }
        guard pendingBytes + line.utf8.count <= capacity else {
            dropped += 1
            droppedInAll += 1
            return
        }
        if writerIdle { condition.signal() }
        pending.append(line)
        pendingBytes += line.utf8.count
    }

    /// Waits until every line queued so far has been written, for at most `seconds`: at exit.
    func flush(within seconds: Double) {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date(timeIntervalSinceNow: seconds)
        while !pending.isEmpty || writing {
            condition.broadcast()  // wakes the writer thread, idle or letting lines gather
            guard condition.wait(until: deadline) else { return }
        }
    }

    /// Lines dropped since start.
    var droppedLines: Int {
        condition.lock()
        defer { condition.unlock() }
        return droppedInAll
    }

    /// Sends lines to the file at `path` (appended to, created if missing) instead, and opens
    /// it anew on SIGHUP, so that logrotate can move it away.
    func useFile(_ path: String) throws(LogFileError) {
        let fd = try Self.open(path)
        condition.lock()
        defer { condition.unlock() }
        if self.path != nil { close(descriptor) }
        descriptor = fd
        self.path = path
        guard !reopensOnHangup else { return }
        reopensOnHangup = true
        Hangup.onHangup { [unowned self] in
            condition.lock()
            reopenRequested = true
            condition.signal()
            condition.unlock()
        }
    }

    private static func open(_ path: String) throws(LogFileError) -> Int32 {
        let fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw LogFileError(path: path, reason: String(cString: strerror(errno))) }
        return fd
    }

    private func drain() {
        while true {
            condition.lock()
            while pending.isEmpty && !reopenRequested {
                writerIdle = true
                condition.wait()
                writerIdle = false
            }
            let reopening = reopenRequested ? path : nil
            reopenRequested = false
            let batch = pending
            writing = true
            let droppedBefore = dropped
            pending.removeAll(keepingCapacity: true)
            pendingBytes = 0
            dropped = 0
            condition.unlock()
            var text = batch.joined()
            if let reopening { text = reopen(reopening) + text }
            if droppedBefore > 0 {
                text = ServerLog.render("log lines dropped: the log output was blocked or failing",
                                        [("dropped", .number(Double(droppedBefore)))]) + text
            }
            condition.lock()
            let fd = descriptor
            condition.unlock()
            let written = writeAll(Array(text.utf8), to: fd)
            condition.lock()
            if !written {
                dropped += droppedBefore + batch.count
                droppedInAll += batch.count
            }
            writing = false
            condition.broadcast()  // for `flush`
            // Let the next lines gather for a moment: under load this thread then wakes a few
            // hundred times a second rather than once per request.
            _ = condition.wait(until: Date(timeIntervalSinceNow: Self.gathering))
            condition.unlock()
        }
    }

    /// Replaces the log file's descriptor by a new one for `path`; the line to log about it.
    private func reopen(_ path: String) -> String {
        do {
            let fd = try Self.open(path)
            condition.lock()
            let old = descriptor
            descriptor = fd
            condition.unlock()
            close(old)
            return ServerLog.render("log file reopened", [("path", .string(path))])
        } catch {
            return ServerLog.render("cannot reopen the log file: still writing to the old one; check the directory and send SIGHUP again",
                                    [("path", .string(path)), ("error", .string(error.reason))])
        }
    }

    /// write(2) until done; false on an error (the caller counts the lines as dropped).
    private func writeAll(_ bytes: [UInt8], to descriptor: Int32) -> Bool {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += n
            }
            return true
        }
    }
}

/// The log file cannot be opened.
public struct LogFileError: Error, CustomStringConvertible {
    let path: String
    let reason: String
    public var description: String { "cannot open the log file \(path) (\(reason))" }
}
