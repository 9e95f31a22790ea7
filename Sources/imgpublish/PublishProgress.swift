import Foundation

/// The progress line on a terminal (standard error): bytes sent, rate, elapsed time.
final class PublishProgress: @unchecked Sendable {
    private let enabled: Bool
    private let started = Date()
    private let lock = NSLock()
    private var lastDrawn = Date.distantPast

    init(enabled: Bool) {
        self.enabled = enabled
    }

    var update: @Sendable (Int64) -> Void {
        { [self] bytes in draw(bytes) }
    }

    private func draw(_ bytes: Int64) {
        guard enabled else { return }
        lock.withLock {
            let now = Date()
            guard now.timeIntervalSince(lastDrawn) > 0.2 else { return }
            lastDrawn = now
            let seconds = max(now.timeIntervalSince(started), 0.001)
            let mib = Double(bytes) / 1_048_576
            let line = String(format: "\r\u{1B}[Ksent %.1f MiB, %.1f MiB/s, %ds", mib, mib / seconds, Int(seconds))
            FileHandle.standardError.write(Data(line.utf8))
        }
    }

    func finish() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}
