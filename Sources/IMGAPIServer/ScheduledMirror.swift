import IMGAPI
import Mirror

/// A mirror the server runs by itself every `interval` (config key `mirrors`).
public struct ScheduledMirror: Sendable {
    public var options: MirrorRun.Options
    public var interval: Duration

    /// The keys of one `mirrors` entry, as the `imgapid mirror` options are named.
    static let keys = ["from", "name", "os", "type", "channel", "since", "latest", "uuid", "prune", "concurrency", "interval"]

    /// Reads `{"from": URL or [URL], "interval": seconds, "name": ..., ...}`.
    static func parse(_ value: JSONValue, at index: Int) throws(ConfigurationError) -> ScheduledMirror {
        let key = "mirrors[\(index)]"
        func fail(_ problem: String) -> ConfigurationError { ConfigurationError(key: key, problem: problem) }
        guard let object = value.objectValue else { throw fail("must be an object with \"from\" and \"interval\"") }
        if let extra = object.keys.first(where: { !keys.contains($0) }) {
            throw fail("unknown key \"\(extra)\" (known: \(keys.joined(separator: ", ")))")
        }
        func strings(_ name: String) throws(ConfigurationError) -> [String] {
            switch object[name] {
            case nil: return []
            case .string(let text)?: return [text]
            case .array(let items)?:
                let texts = items.compactMap(\.stringValue)
                guard texts.count == items.count else { throw fail("\"\(name)\" must be a string or an array of strings") }
                return texts
            default: throw fail("\"\(name)\" must be a string or an array of strings")
            }
        }
        func string(_ name: String) throws(ConfigurationError) -> String? {
            guard let value = object[name] else { return nil }
            guard let text = value.stringValue, !text.isEmpty else { throw fail("\"\(name)\" must be a non-empty string") }
            return text
        }
        func integer(_ name: String, _ range: ClosedRange<Int>) throws(ConfigurationError) -> Int? {
            guard let value = object[name] else { return nil }
            guard case .number(let n) = value, let i = Int(exactly: n), range.contains(i) else {
                throw fail("\"\(name)\" must be a whole number from \(range.lowerBound) to \(range.upperBound)")
            }
            return i
        }
        let sources = try strings("from")
        guard !sources.isEmpty else { throw fail("\"from\" is required") }
        guard let seconds = try integer("interval", 60...366 * 86400) else { throw fail("\"interval\" (seconds, at least 60) is required") }
        var filter = MirrorFilter()
        filter.names = try strings("name").map(ListImagesQuery.TextMatch.init)
        filter.os = try string("os")
        filter.type = try string("type")
        if let since = try string("since") {
            guard let ms = Timestamp.milliseconds(fromISO8601: since) ?? Timestamp.milliseconds(fromISO8601: since + "T00:00:00Z") else {
                throw fail("\"since\" is not a date")
            }
            filter.since = ms
        }
        filter.latest = try integer("latest", 1...100_000)
        filter.uuids = try strings("uuid")
        if let bad = filter.uuids.first(where: { !ImageUUID.isValid($0) }) { throw fail("\"uuid\": \(bad) is not an image uuid") }
        var prune = false
        switch object["prune"] {
        case nil: break
        case .bool(let flag)?: prune = flag
        default: throw fail("\"prune\" must be true or false")
        }
        let options = MirrorRun.Options(sources: sources, filter: filter, channel: try string("channel"),
                                        concurrency: try integer("concurrency", 1...32) ?? 2, prune: prune)
        return ScheduledMirror(options: options, interval: .seconds(seconds))
    }

    var json: JSONValue {
        var object = JSONObject([("from", .array(options.sources.map(JSONValue.string)))])
        let filter = options.filter
        if !filter.names.isEmpty {
            object["name"] = .array(filter.names.map { .string($0.raw) })
        }
        if let os = filter.os { object["os"] = .string(os) }
        if let type = filter.type { object["type"] = .string(type) }
        if let channel = options.channel { object["channel"] = .string(channel) }
        if let since = filter.since { object["since"] = .string(Timestamp.iso8601(milliseconds: since)) }
        if let latest = filter.latest { object["latest"] = .number(Double(latest)) }
        if !filter.uuids.isEmpty { object["uuid"] = .array(filter.uuids.map(JSONValue.string)) }
        object["prune"] = .bool(options.prune)
        object["concurrency"] = .number(Double(options.concurrency))
        object["interval"] = .number(Double(interval.components.seconds))
        return .object(object)
    }
}
