import Foundation
import IMGAPIServer

/// A one-line progress display on a terminal (standard error) for `imgapid export` and
/// `imgapid import-bundle`: bytes done of the total, percent, rate. Silent when not a terminal.
final class TransferProgress: @unchecked Sendable {
    private let verb: String
    private let enabled: Bool
    private let lock = NSLock()
    private let started = Date()
    private var lastDrawn = Date.distantPast
    private var drawn = false

    init(_ verb: String, enabled: Bool) {
        self.verb = verb
        self.enabled = enabled
    }

    func update(_ done: Int64, of total: Int64) {
        guard enabled else { return }
        lock.withLock {
            let now = Date()
            guard done == total || now.timeIntervalSince(lastDrawn) > 0.2 else { return }
            lastDrawn = now
            drawn = true
            let seconds = max(now.timeIntervalSince(started), 0.001)
            let percent = total > 0 ? Int(Double(done) * 100 / Double(total)) : 100
            let line = "\r\u{1B}[K\(verb): \(ByteSize.text(done)) of \(ByteSize.text(total)) (\(percent)%), "
                + "\(ByteSize.text(Int64(Double(done) / seconds)))/s, \(Int(seconds))s"
            FileHandle.standardError.write(Data(line.utf8))
        }
    }

    /// Clears the line, once, if anything was drawn.
    func finish() {
        lock.withLock {
            guard drawn else { return }
            drawn = false
            FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
        }
    }
}
