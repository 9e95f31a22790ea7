import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// SIGHUP, handed to everything that acts on it (the config file, the log file, the TLS
/// certificate) through one signal source; the signal itself is ignored, so it never stops
/// the server.
enum Hangup {
    private static let state = Mutex<(source: (any DispatchSourceSignal)?, handlers: [@Sendable () -> Void])>((nil, []))

    /// Runs `handler` on every SIGHUP from now on (on a global queue).
    static func onHangup(_ handler: @escaping @Sendable () -> Void) {
        state.withLock { state in
            state.handlers.append(handler)
            guard state.source == nil else { return }
            signal(SIGHUP, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
            source.setEventHandler {
                for handler in Self.state.withLock({ $0.handlers }) { handler() }
            }
            source.resume()
            state.source = source
        }
    }
}
