import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where log lines go: a bounded queue drained by one writer thread, so that a slow, full
/// or closed standard output never blocks or kills request handling. Lines that do not
/// fit, or that the sink refuses (EPIPE, ENOSPC), are dropped and counted; once writing
/// works again a `log lines dropped` line says how many.
final class LogSink: @unchecked Sendable {
    private let condition = NSCondition()
    private var pending: [String] = []
    private var pendingBytes = 0
    private var dropped = 0
    private let descriptor: Int32
    /// Most bytes waiting to be written; beyond that, new lines are dropped.
    private let capacity: Int

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
            return
        }
        pending.append(line)
        pendingBytes += line.utf8.count
        condition.signal()
    }

    private func drain() {
        while true {
            condition.lock()
            while pending.isEmpty { condition.wait() }
            let batch = pending
            let droppedBefore = dropped
            pending.removeAll(keepingCapacity: true)
            pendingBytes = 0
            dropped = 0
            condition.unlock()
            var text = batch.joined()
            if droppedBefore > 0 {
                text = ServerLog.render("log lines dropped: the log output was blocked or failing",
                                        [("dropped", .number(Double(droppedBefore)))]) + text
            }
            if !writeAll(Array(text.utf8)) {
                condition.lock()
                dropped += droppedBefore + batch.count
                condition.unlock()
            }
        }
    }

    /// write(2) until done; false on an error (the caller counts the lines as dropped).
    private func writeAll(_ bytes: [UInt8]) -> Bool {
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
