import HTTPSignature
import IMGAPI
import Synchronization

/// The settings that change while the server runs: `readOnly` (also switched by
/// `POST /state`), `trustedNetworks` and `authKeys`, read from the config file again on
/// SIGHUP. Everything else is read once at start.
final class LiveSettings: Sendable {
    private struct State {
        var readOnly: Bool
        var trustedNetworks: [TrustedNetwork]
    }

    private let state: Mutex<State>
    let keyStore: AuthKeyStore

    init(_ configuration: ServerConfiguration, keyStore: AuthKeyStore) {
        state = Mutex(State(readOnly: configuration.readOnly, trustedNetworks: configuration.trustedNetworks))
        self.keyStore = keyStore
    }

    var readOnly: Bool {
        get { state.withLock { $0.readOnly } }
        set { state.withLock { $0.readOnly = newValue } }
    }

    var trustedNetworks: [TrustedNetwork] { state.withLock { $0.trustedNetworks } }

    /// Takes the live settings of a configuration read anew; returns the config keys whose
    /// value changed.
    func apply(_ configuration: ServerConfiguration, from old: ServerConfiguration) -> [String] {
        state.withLock {
            $0.readOnly = configuration.readOnly
            $0.trustedNetworks = configuration.trustedNetworks
        }
        keyStore.replaceConfigured(configuration.authKeys)
        var changed: [String] = []
        if configuration.readOnly != old.readOnly { changed.append("readOnly") }
        if configuration.trustedNetworks.map(\.description) != old.trustedNetworks.map(\.description) { changed.append("trustedNetworks") }
        if configuration.authKeys.mapValues({ $0.map(\.openSSHLine) }) != old.authKeys.mapValues({ $0.map(\.openSSHLine) }) {
            changed.append("authKeys")
        }
        return changed
    }

    /// Config keys that changed in the file but take effect only at the next start.
    static func needingRestart(_ new: ServerConfiguration, _ old: ServerConfiguration) -> [String] {
        let live: Set<String> = [ServerConfiguration.FileKey.readOnly.rawValue, ServerConfiguration.FileKey.trustedNetworks.rawValue,
                                 ServerConfiguration.FileKey.authKeys.rawValue]
        let before = old.fileJSON.objectValue ?? JSONObject(), after = new.fileJSON.objectValue ?? JSONObject()
        let keys = Set(before.keys).union(after.keys).subtracting(live)
        return keys.filter { before[$0] != after[$0] }.sorted()
    }
}

/// SIGHUP's reading of the config file: its live settings are taken at once; a file that
/// does not parse is refused and the settings in force stay. Changes to other keys are
/// named in the log as waiting for a restart.
final class ConfigurationReload: Sendable {
    private let settings: LiveSettings
    private let reread: @Sendable () throws -> ServerConfiguration
    /// As the process started: what the keys read only at start are compared with.
    private let started: ServerConfiguration
    private let current: Mutex<ServerConfiguration>

    init(settings: LiveSettings, started: ServerConfiguration, reread: @escaping @Sendable () throws -> ServerConfiguration) {
        self.settings = settings
        self.started = started
        self.reread = reread
        current = Mutex(started)
    }

    func reload() {
        let new: ServerConfiguration
        do { new = try reread() } catch {
            ServerLog.event("config not reloaded: the settings in force stay", [
                ("level", .string("error")), ("error", .string("\(error)")),
            ])
            return
        }
        let changed = settings.apply(new, from: current.withLock { $0 })
        current.withLock { $0 = new }
        var fields: [(String, JSONValue)] = [("changed", .array(changed.map(JSONValue.string)))]
        let waiting = LiveSettings.needingRestart(new, started)
        if !waiting.isEmpty { fields.append(("needs_restart", .array(waiting.map(JSONValue.string)))) }
        ServerLog.event("config reloaded", fields)
    }
}
