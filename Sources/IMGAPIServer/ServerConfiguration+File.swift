import HTTPSignature
import IMGAPI
import ImageStore
import Mirror
import ObjectStorage

/// A configuration file key that is unknown or has a bad value: the server does not start.
public struct ConfigurationError: Error, CustomStringConvertible {
    public let key: String
    public let problem: String
    public var description: String { "config key \"\(key)\": \(problem)" }
}

extension ServerConfiguration {
    /// The keys of the JSON configuration file. Where the reference server has a key for the
    /// same setting, it has the same name and shape, so its config mostly carries over.
    public enum FileKey: String, CaseIterable, Sendable {
        case address, port, mode, authType, serverName, channels, authKeys
        /// Reference keys for what imgapid does one way only: accepted with the value that
        /// means that way, refused with any other (so a reference config still starts).
        case databaseType, storageTypes, placeholderImageLifespanDays, allowInsecure
        case mirrors, upstreams, cacheMaxBytes
        case storageDir, catalog, blobs, blobsCredentialsFile, trustedNetworks, maxJSONBodySize
        case listingCacheBytes
        case headTimeout, idleTimeout, bodyStallTimeout, responseStallTimeout
        case maxConnections, maxConnectionsPerAddress, logFile, verifyOnSend
        case scrubInterval, scrubRate, validateStreams
        case metricsAddress, readyMinFreeMB, tlsCert, tlsKey, shutdownTimeout, readOnly
    }

    /// Applies the settings of a configuration file (a JSON object) over these ones.
    public mutating func apply(file: JSONValue) throws(ConfigurationError) {
        guard let object = file.objectValue else {
            throw ConfigurationError(key: "(file)", problem: "the configuration must be a JSON object")
        }
        // Keys starting with "//" are comments, as in the reference's example configs.
        for (name, value) in object where !name.hasPrefix("//") {
            guard let key = FileKey(rawValue: name) else {
                throw ConfigurationError(key: name, problem: "unknown key (known: \(FileKey.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            try apply(key, value)
        }
        if (tlsCertificate == nil) != (tlsKey == nil) {
            throw ConfigurationError(key: tlsCertificate == nil ? "tlsCert" : "tlsKey",
                                     problem: "tlsCert and tlsKey go together: give both files, or neither for plain HTTP")
        }
        for (index, mirror) in mirrors.enumerated() {
            if let problem = ChannelPlacement.problem(local: channels, given: mirror.options.channel) {
                throw ConfigurationError(key: "mirrors[\(index)].channel", problem: problem)
            }
        }
    }

    private mutating func apply(_ key: FileKey, _ value: JSONValue) throws(ConfigurationError) {
        func string() throws(ConfigurationError) -> String {
            guard let text = value.stringValue, !text.isEmpty else {
                throw ConfigurationError(key: key.rawValue, problem: "must be a non-empty string")
            }
            return text
        }
        func integer(_ range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
            guard case .number(let n) = value, let i = Int(exactly: n), range.contains(i) else {
                throw ConfigurationError(key: key.rawValue, problem: "must be a whole number from \(range.lowerBound) to \(range.upperBound)")
            }
            return i
        }
        func boolean() throws(ConfigurationError) -> Bool {
            guard case .bool(let flag) = value else {
                throw ConfigurationError(key: key.rawValue, problem: "must be true or false")
            }
            return flag
        }
        switch key {
        case .address: host = try string()
        case .port: port = try integer(0...65535)
        case .mode:
            guard let m = ServerMode(rawValue: try string()) else {
                throw ConfigurationError(key: key.rawValue, problem: "must be \"public\" or \"private\"")
            }
            mode = m
        case .authType:
            guard let a = AuthMode(rawValue: try string()) else {
                throw ConfigurationError(key: key.rawValue, problem: "must be \"signature\" or \"none\"")
            }
            auth = a
        case .serverName: serverName = try string()
        case .storageDir: storage = try string()
        case .blobs:
            let text = try string()
            do { blobs = try S3Location(parsing: text) } catch {
                throw ConfigurationError(key: key.rawValue, problem: error.description)
            }
        case .blobsCredentialsFile: blobsCredentialsFile = try string()
        case .catalog:
            let text = try string()
            do { catalog = try PostgresLocation(text) } catch {
                throw ConfigurationError(key: key.rawValue, problem: "\(error)")
            }
        case .trustedNetworks:
            guard let items = value.arrayValue else {
                throw ConfigurationError(key: key.rawValue, problem: "must be an array of CIDR strings")
            }
            trustedNetworks = try items.map { item throws(ConfigurationError) in
                guard let text = item.stringValue, let network = TrustedNetwork(text) else {
                    throw ConfigurationError(key: key.rawValue, problem: "\(item.compact()) is not an IPv4 or IPv6 address or CIDR")
                }
                return network
            }
        case .maxJSONBodySize: maxJSONBodySize = try integer(1024...64 * 1024 * 1024)
        case .listingCacheBytes: listingCacheBytes = try integer(0...16 * 1024 * 1024 * 1024)
        case .headTimeout: headTimeout = try integer(1...86_400)
        case .idleTimeout: idleTimeout = try integer(1...86_400)
        case .bodyStallTimeout: bodyStallTimeout = try integer(1...86_400)
        case .responseStallTimeout: responseStallTimeout = try integer(1...86_400)
        case .maxConnections: maxConnections = try integer(1...1_000_000)
        case .maxConnectionsPerAddress: maxConnectionsPerAddress = try integer(1...1_000_000)
        case .logFile: logFile = try string()
        case .verifyOnSend: verifyOnSend = try boolean()
        case .validateStreams: validateStreams = try boolean()
        case .scrubInterval: scrubInterval = try integer(0...366 * 86_400)
        case .scrubRate: scrubRate = try integer(1...100_000)
        case .readyMinFreeMB: readyMinFreeMB = try integer(0...1_000_000_000)
        case .shutdownTimeout: shutdownTimeout = try integer(1...86_400)
        case .readOnly: readOnly = try boolean()
        case .tlsCert: tlsCertificate = try string()
        case .tlsKey: tlsKey = try string()
        case .metricsAddress:
            guard let address = ListenAddress(try string()) else {
                throw ConfigurationError(key: key.rawValue, problem: "must be HOST:PORT, such as \"127.0.0.1:9100\" or \"[::1]:9100\"")
            }
            metricsAddress = address
        case .channels: channels = try Self.channels(value)
        case .authKeys: authKeys = try Self.authKeys(value)
        case .databaseType:
            guard value.stringValue == "local" else {
                throw ConfigurationError(key: key.rawValue, problem: "only \"local\" is supported (the catalog is SQLite under storageDir)")
            }
        case .storageTypes:
            guard value == .array([.string("local")]) else {
                throw ConfigurationError(key: key.rawValue, problem: "only [\"local\"] is supported (files are kept under storageDir)")
            }
        case .placeholderImageLifespanDays:
            // imgapid makes no placeholder images (no CreateImageFromVm), so nothing expires.
            _ = try integer(1...36_500)
        case .allowInsecure:
            guard value == .bool(false) else {
                throw ConfigurationError(key: key.rawValue, problem: "only false is supported: upstream TLS certificates are always verified")
            }
        case .upstreams: upstreams = try Self.upstreams(value)
        case .cacheMaxBytes:
            guard case .number(let n) = value, let bytes = Int64(exactly: n), bytes >= 0 else {
                throw ConfigurationError(key: key.rawValue, problem: "must be a whole number of bytes (0: no limit)")
            }
            cacheMaxBytes = bytes
        case .mirrors:
            guard let items = value.arrayValue else {
                throw ConfigurationError(key: key.rawValue, problem: "must be an array of mirror definitions")
            }
            mirrors = try items.enumerated().map { index, item throws(ConfigurationError) in
                try ScheduledMirror.parse(item, at: index)
            }
        }
    }

    /// `[{"url", "ttl"?, "name"?}]`: the pull-through cache's upstreams, first wins.
    static func upstreams(_ value: JSONValue) throws(ConfigurationError) -> [PullThroughUpstream] {
        guard let items = value.arrayValue else {
            throw ConfigurationError(key: "upstreams", problem: "must be an array of {\"url\", \"ttl\"?, \"name\"?}")
        }
        return try items.enumerated().map { index, item throws(ConfigurationError) in
            func fail(_ problem: String) -> ConfigurationError { ConfigurationError(key: "upstreams[\(index)]", problem: problem) }
            guard let object = item.objectValue, let url = object["url"]?.stringValue else {
                throw fail("needs a string \"url\", such as {\"url\": \"https://images.smartos.org\"}")
            }
            if let extra = object.keys.first(where: { !["url", "ttl", "name"].contains($0) }) {
                throw fail("unknown key \"\(extra)\" (known: url, ttl, name)")
            }
            var ttl = 300
            if let value = object["ttl"] {
                guard case .number(let n) = value, let seconds = Int(exactly: n), (1...604_800).contains(seconds) else {
                    throw fail("\"ttl\" must be a whole number of seconds from 1 to 604800")
                }
                ttl = seconds
            }
            var name: ListImagesQuery.TextMatch?
            if let value = object["name"] {
                guard let text = value.stringValue, !text.isEmpty else { throw fail("\"name\" must be a non-empty string") }
                name = ListImagesQuery.TextMatch(text)
            }
            do {
                return try PullThroughUpstream(url: url, ttl: .seconds(ttl), name: name)
            } catch {
                throw fail("\"url\": \(error)")
            }
        }
    }

    static func upstreamJSON(_ upstream: PullThroughUpstream) -> JSONValue {
        var object = JSONObject([("url", .string(upstream.url)), ("ttl", .number(Double(upstream.ttl.components.seconds)))])
        if let name = upstream.name { object["name"] = .string(name.raw) }
        return .object(object)
    }

    /// `[{"name", "description", "default"?}]`: valid unique names, at most one default.
    static func channels(_ value: JSONValue) throws(ConfigurationError) -> [Channel] {
        func fail(_ problem: String) -> ConfigurationError { ConfigurationError(key: "channels", problem: problem) }
        guard let items = value.arrayValue, !items.isEmpty else {
            throw fail("must be a non-empty array of {\"name\", \"description\", \"default\"?}")
        }
        var channels: [Channel] = []
        for item in items {
            guard let object = item.objectValue, let name = object["name"]?.stringValue,
                  let description = object["description"]?.stringValue else {
                throw fail("\(item.compact()) needs a string \"name\" and \"description\"")
            }
            if let extra = object.keys.first(where: { !["name", "description", "default"].contains($0) }) {
                throw fail("channel \"\(name)\": unknown key \"\(extra)\"")
            }
            guard Channel.isValidName(name) else { throw fail("channel name \"\(name)\" must match ^[a-z][a-z0-9_-]*$") }
            guard !channels.contains(where: { $0.name == name }) else { throw fail("channel \"\(name)\" is listed twice") }
            let isDefault: Bool
            switch object["default"] {
            case nil: isDefault = false
            case .bool(let flag)?: isDefault = flag
            default: throw fail("channel \"\(name)\": \"default\" must be true or false")
            }
            channels.append(Channel(name: name, description: description, isDefault: isDefault))
        }
        guard channels.filter(\.isDefault).count <= 1 else { throw fail("at most one channel can be the default") }
        return channels
    }

    /// `{"USER": ["ssh-rsa AAAA… comment", …]}`, each line an OpenSSH public key.
    static func authKeys(_ value: JSONValue) throws(ConfigurationError) -> [String: [SSHPublicKey]] {
        func fail(_ problem: String) -> ConfigurationError { ConfigurationError(key: "authKeys", problem: problem) }
        guard let users = value.objectValue else { throw fail("must be an object of user names to arrays of OpenSSH public keys") }
        var keys: [String: [SSHPublicKey]] = [:]
        for (user, lines) in users {
            guard AuthKeyStore.isValidUser(user) else { throw fail("invalid user name \"\(user)\"") }
            guard let lines = lines.arrayValue else { throw fail("\"\(user)\" must have an array of OpenSSH public keys") }
            keys[user] = try lines.enumerated().map { index, line throws(ConfigurationError) in
                guard let text = line.stringValue, let key = try? SSHPublicKey(openSSHLine: text) else {
                    throw fail("key \(index + 1) of \"\(user)\" is not an OpenSSH public key")
                }
                return key
            }
        }
        return keys
    }

    /// The effective configuration in the file's format (`imgapid serve --print-config`).
    public var fileJSON: JSONValue {
        .object(JSONObject([
            (FileKey.address.rawValue, .string(host)),
            (FileKey.port.rawValue, .number(Double(port))),
            (FileKey.mode.rawValue, .string(mode.rawValue)),
            (FileKey.authType.rawValue, .string(auth.rawValue)),
            (FileKey.serverName.rawValue, .string(serverName)),
            (FileKey.storageDir.rawValue, .string(storage)),
            (FileKey.trustedNetworks.rawValue, .array(trustedNetworks.map { .string($0.description) })),
            (FileKey.maxJSONBodySize.rawValue, .number(Double(maxJSONBodySize))),
            (FileKey.listingCacheBytes.rawValue, .number(Double(listingCacheBytes))),
            (FileKey.headTimeout.rawValue, .number(Double(headTimeout))),
            (FileKey.idleTimeout.rawValue, .number(Double(idleTimeout))),
            (FileKey.bodyStallTimeout.rawValue, .number(Double(bodyStallTimeout))),
            (FileKey.responseStallTimeout.rawValue, .number(Double(responseStallTimeout))),
            (FileKey.maxConnections.rawValue, .number(Double(maxConnections))),
            (FileKey.maxConnectionsPerAddress.rawValue, .number(Double(maxConnectionsPerAddress))),
            (FileKey.verifyOnSend.rawValue, .bool(verifyOnSend)),
            (FileKey.validateStreams.rawValue, .bool(validateStreams)),
            (FileKey.scrubInterval.rawValue, .number(Double(scrubInterval))),
            (FileKey.scrubRate.rawValue, .number(Double(scrubRate))),
            (FileKey.readyMinFreeMB.rawValue, .number(Double(readyMinFreeMB))),
            (FileKey.shutdownTimeout.rawValue, .number(Double(shutdownTimeout))),
            (FileKey.readOnly.rawValue, .bool(readOnly)),
            (FileKey.mirrors.rawValue, .array(mirrors.map(\.json))),
            (FileKey.cacheMaxBytes.rawValue, .number(Double(cacheMaxBytes))),
        ] + optionalFileEntries))
    }

    /// Keys printed only when set (an empty `channels` is refused on reading, spec §6; no
    /// `logFile` means standard output).
    private var optionalFileEntries: [(String, JSONValue)] {
        var entries: [(String, JSONValue)] = []
        if let catalog { entries.append((FileKey.catalog.rawValue, .string(catalog.url))) }
        if let blobs { entries.append((FileKey.blobs.rawValue, .string(blobs.description))) }
        if let blobsCredentialsFile { entries.append((FileKey.blobsCredentialsFile.rawValue, .string(blobsCredentialsFile))) }
        if let logFile { entries.append((FileKey.logFile.rawValue, .string(logFile))) }
        if let metricsAddress { entries.append((FileKey.metricsAddress.rawValue, .string(metricsAddress.description))) }
        if let tlsCertificate { entries.append((FileKey.tlsCert.rawValue, .string(tlsCertificate))) }
        if let tlsKey { entries.append((FileKey.tlsKey.rawValue, .string(tlsKey))) }
        if !channels.isEmpty { entries.append((FileKey.channels.rawValue, .array(channels.map(\.json)))) }
        if !upstreams.isEmpty { entries.append((FileKey.upstreams.rawValue, .array(upstreams.map(Self.upstreamJSON)))) }
        if !authKeys.isEmpty {
            let users = authKeys.sorted { $0.key < $1.key }.map { ($0.key, JSONValue.array($0.value.map { .string($0.openSSHLine) })) }
            entries.append((FileKey.authKeys.rawValue, .object(JSONObject(users))))
        }
        return entries
    }
}
