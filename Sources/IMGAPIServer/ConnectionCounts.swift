import Synchronization

/// The open connections, in all and per client address, held against the configured caps
/// (`maxConnections`, `maxConnectionsPerAddress`). Shared by every connection's guard.
final class ConnectionCounts: Sendable {
    enum Admission: Equatable {
        case admitted
        /// The server as a whole is at `maxConnections`.
        case serverFull
        /// This address is at `maxConnectionsPerAddress`.
        case addressFull
    }

    let maxTotal: Int
    let maxPerAddress: Int
    private let state = Mutex<(total: Int, perAddress: [String: Int])>((0, [:]))

    init(maxTotal: Int, maxPerAddress: Int) {
        self.maxTotal = maxTotal
        self.maxPerAddress = maxPerAddress
    }

    /// Counts a new connection from `address` unless a cap is reached.
    func admit(_ address: String) -> Admission {
        state.withLock { state in
            guard state.total < maxTotal else { return .serverFull }
            let mine = state.perAddress[address, default: 0]
            guard mine < maxPerAddress else { return .addressFull }
            state.total += 1
            state.perAddress[address] = mine + 1
            return .admitted
        }
    }

    /// Forgets a connection `admit` counted.
    func release(_ address: String) {
        state.withLock { state in
            state.total -= 1
            let left = state.perAddress[address, default: 1] - 1
            state.perAddress[address] = left > 0 ? left : nil
        }
    }
}
