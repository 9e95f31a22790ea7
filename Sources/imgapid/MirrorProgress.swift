import Foundation
import IMGAPIServer
import Mirror

/// The one-line progress display of `imgapid mirror` on a terminal (standard error):
/// images done of total, bytes received, rate. Silent when not a terminal.
final class MirrorProgress: @unchecked Sendable {
    private let enabled: Bool
    private let lock = NSLock()
    private let started = Date()
    private var total = 0
    private var done = 0
    private var finishedBytes: Int64 = 0
    private var inFlight: [String: Int64] = [:]
    private var lastDrawn = Date.distantPast

    init(enabled: Bool) {
        self.enabled = enabled
    }

    func handle(_ event: MirrorRun.Event) {
        guard enabled else { return }
        lock.withLock {
            switch event {
            case .listed(_, _, let toCopy, _): total += toCopy
            case .received(let uuid, let bytes): inFlight[uuid] = bytes
            case .finished(let outcome):
                if let bytes = inFlight.removeValue(forKey: outcome.uuid) { finishedBytes += bytes }
                if outcome.result == .copied || outcome.result == .failed { done += 1 }
            case .sourceFailed: break
            }
            draw(force: { if case .finished = event { return true }; return false }())
        }
    }

    func finish() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }

    private func draw(force: Bool) {
        let now = Date()
        guard force || now.timeIntervalSince(lastDrawn) > 0.2 else { return }
        lastDrawn = now
        let bytes = finishedBytes + inFlight.values.reduce(0, +)
        let seconds = max(now.timeIntervalSince(started), 0.001)
        let line = "\r\u{1B}[Kmirror: \(done)/\(total) images, \(ByteSize.text(bytes)), \(ByteSize.text(Int64(Double(bytes) / seconds)))/s, \(Int(seconds))s"
        FileHandle.standardError.write(Data(line.utf8))
    }
}
