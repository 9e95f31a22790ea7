import IMGAPI

/// Where mirrored images go on a server with channels: the channel the mirror was given
/// (`--channel`), else those of the image's upstream channels that exist here, else the
/// local default channel. On a server without channels, nowhere (nil).
public struct ChannelPlacement: Sendable {
    /// The local server's channels; empty when it has none.
    public let local: [Channel]
    public let given: String?

    public init(local: [Channel], given: String?) {
        self.local = local
        self.given = given
    }

    /// Why a mirror given `channel` cannot run into a server with `local` channels, if it cannot.
    public static func problem(local: [Channel], given channel: String?) -> String? {
        guard !local.isEmpty, let channel, !local.contains(where: { $0.name == channel }) else { return nil }
        return "channel \"\(channel)\" is not a channel of this server (\(local.map(\.name).joined(separator: ", "))): "
            + "add it to \"channels\" in the config, or mirror with --channel set to one of these"
    }

    /// The local channels of `image`; nil on a server without channels.
    public func channels(of image: UpstreamImage) throws(PlacementError) -> [String]? {
        guard !local.isEmpty else { return nil }
        if let given { return [given] }
        let upstream = (image.manifest["channels"]?.arrayValue ?? []).compactMap(\.stringValue)
        let kept = Self.unique(upstream.filter { name in local.contains { $0.name == name } })
        if !kept.isEmpty { return kept }
        guard let fallback = local.first(where: \.isDefault) else {
            let named = upstream.isEmpty ? "it is in no upstream channel" : "none of its channels (\(upstream.joined(separator: ", "))) is here"
            throw PlacementError(description: "\(named) and this server has no default channel: mirror with --channel NAME")
        }
        return [fallback.name]
    }

    /// `names` in order, each once.
    static func unique(_ names: [String]) -> [String] {
        var seen = Set<String>()
        return names.filter { seen.insert($0).inserted }
    }
}

/// An image that has no channel to go to here.
public struct PlacementError: Error, CustomStringConvertible {
    public let description: String
}
