import Dispatch
import Foundation

/// SIGINT and SIGTERM while publishing: instead of dying with a snapshot and an unactivated
/// image left behind, the publish is cancelled and cleans up (see `Publisher`), then exits
/// 128 + the signal, as a shell reports a process killed by it.
final class StopSignals: @unchecked Sendable {
    private let lock = NSLock()
    private var received: Int32?
    private var sources: [any DispatchSourceSignal] = []

    /// Starts catching; `stop` runs (once per signal) on a dispatch queue.
    init(_ stop: @escaping @Sendable () -> Void) {
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [weak self] in
                self?.lock.withLock { self?.received = self?.received ?? number }
                stop()
            }
            source.resume()
            sources.append(source)
        }
    }

    /// The first signal caught, if any.
    var caught: Int32? { lock.withLock { received } }
}
