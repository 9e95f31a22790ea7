/// A channel of the server's configuration (spec §6): images are published to channels,
/// and clients read one channel (`?channel=`), or all of them with `*`.
public struct Channel: Sendable, Equatable {
    public var name: String
    public var description: String
    public var isDefault: Bool

    public init(name: String, description: String, isDefault: Bool = false) {
        self.name = name
        self.description = description
        self.isDefault = isDefault
    }

    /// `^[a-z][a-z0-9_-]*$`
    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.utf8.first, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first) else { return false }
        return name.utf8.allSatisfy {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
                || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-")
        }
    }

    /// As `GET /channels` lists it: exactly as configured.
    public var json: JSONValue {
        var object = JSONObject([("name", .string(name)), ("description", .string(description))])
        if isDefault { object["default"] = .bool(true) }
        return .object(object)
    }
}

/// The channel a request works in.
public enum ChannelSelection: Sendable, Equatable {
    /// The server has no channels: `?channel=` is ignored.
    case unconfigured
    /// `channel=*` on a read: every channel.
    case all
    case named(String)

    /// Resolves `?channel=` against the configured channels: absent means the default
    /// channel; `*` is allowed on reads only.
    public static func resolve(_ requested: String?, channels: [Channel], forRead: Bool) throws(IMGAPIError) -> ChannelSelection {
        guard !channels.isEmpty else { return .unconfigured }
        guard let requested else {
            guard let fallback = channels.first(where: \.isDefault) else {
                throw channelError(.missing("channel"), "channel not specified and the server has no default channel")
            }
            return .named(fallback.name)
        }
        if requested == "*", forRead { return .all }
        guard channels.contains(where: { $0.name == requested }) else {
            throw channelError(.invalid("channel"), "unknown channel: \(requested)")
        }
        return .named(requested)
    }

    public static func channelError(_ problem: FieldError, _ message: String) -> IMGAPIError {
        IMGAPIError(status: 422, code: "ValidationFailed", message: message, errors: [problem])
    }

    /// The channel name to filter or record with, if there is one.
    public var name: String? {
        if case .named(let name) = self { return name }
        return nil
    }

    /// Whether an image with these `channels` can be seen in this selection.
    public func contains(_ record: JSONObject) -> Bool {
        guard case .named(let name) = self else { return true }
        return (record["channels"]?.arrayValue ?? []).contains(.string(name))
    }
}
