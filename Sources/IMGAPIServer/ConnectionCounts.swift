import Synchronization

/// The open connections, in all and per client address, held against the configured caps
/// (`maxConnections`, `maxConnectionsPerAddress`), and the refused ones still waiting for
/// their 503. Shared by every connection's guard.
final class ConnectionCounts: Sendable {
    enum Admission: Equatable {
        case admitted
        /// The server as a whole is at `maxConnections`: answer 503.
        case serverFull
        /// This address is at `maxConnectionsPerAddress`: answer 503.
        case addressFull
        /// Over a cap while `maxRefusing` refusals are pending: close at once, so that a
        /// flood of connections cannot use up the descriptors that a 503 needs.
        case dropped
    }

    /// Most refused connections held open at once, each until its 503 is written.
    let maxRefusing: Int
    private struct State {
        var total = 0
        var perAddress: [String: Int] = [:]
        var refusing = 0
        var maxTotal: Int
        var maxPerAddress: Int
    }
    private let state: Mutex<State>

    init(maxTotal: Int, maxPerAddress: Int, maxRefusing: Int) {
        state = Mutex(State(maxTotal: maxTotal, maxPerAddress: maxPerAddress))
        self.maxRefusing = maxRefusing
    }

    var maxTotal: Int { state.withLock { $0.maxTotal } }
    var maxPerAddress: Int { state.withLock { $0.maxPerAddress } }

    /// New caps (SIGHUP): connections open beyond them stay, new ones are held to them.
    func setCaps(total: Int, perAddress: Int) {
        state.withLock {
            $0.maxTotal = total
            $0.maxPerAddress = perAddress
        }
    }

    /// Connections admitted and still open.
    var open: Int { state.withLock { $0.total } }

    /// Counts a new connection from `address`: admitted unless a cap is reached.
    func admit(_ address: String) -> Admission {
        state.withLock { state in
            let mine = state.perAddress[address, default: 0]
            let refusal: Admission
            if state.total >= state.maxTotal {
                refusal = .serverFull
            } else if mine >= state.maxPerAddress {
                refusal = .addressFull
            } else {
                state.total += 1
                state.perAddress[address] = mine + 1
                return .admitted
            }
            guard state.refusing < maxRefusing else { return .dropped }
            state.refusing += 1
            return refusal
        }
    }

    /// Forgets a connection `admit` counted: admitted (with its `address`) or refused.
    func release(_ admission: Admission, address: String) {
        state.withLock { state in
            switch admission {
            case .admitted:
                state.total -= 1
                let left = state.perAddress[address, default: 1] - 1
                state.perAddress[address] = left > 0 ? left : nil
            case .serverFull, .addressFull:
                state.refusing -= 1
            case .dropped:
                break
            }
        }
    }
}
