import IMGAPI

/// Which upstream images a mirror copies. Every given criterion must hold; repeated
/// `names` and `uuids` are alternatives. Origins of selected images are copied whether
/// they match or not (a child cannot be imported without them).
public struct MirrorFilter: Sendable, Equatable {
    /// Exact names, or `~substring`.
    public var names: [ListImagesQuery.TextMatch] = []
    public var os: String?
    public var type: String?
    /// Only images published at or after this time (epoch milliseconds).
    public var since: Int64?
    /// The newest N versions (by publish time) of each name.
    public var latest: Int?
    public var uuids: [String] = []

    public init() {}

    public func select(_ images: [UpstreamImage]) -> [UpstreamImage] {
        let matching = images.filter(matches)
        guard let latest else { return matching }
        var byName: [String: [UpstreamImage]] = [:]
        for image in matching { byName[image.manifest["name"]?.stringValue ?? "", default: []].append(image) }
        let kept = Set(byName.values.flatMap { group in
            group.sorted { Self.published($0) > Self.published($1) }.prefix(latest).map(\.uuid)
        })
        return matching.filter { kept.contains($0.uuid) }
    }

    func matches(_ image: UpstreamImage) -> Bool {
        let manifest = image.manifest
        if !uuids.isEmpty, !uuids.contains(image.uuid) { return false }
        if !names.isEmpty {
            let name = manifest["name"]?.stringValue ?? ""
            let named = names.contains { match in
                switch match {
                case .exact(let text): return name == text
                case .substring(let text): return name.contains(text)
                }
            }
            if !named { return false }
        }
        if let os, manifest["os"]?.stringValue != os { return false }
        if let type, manifest["type"]?.stringValue != type { return false }
        if let since, Self.published(image) < since { return false }
        return true
    }

    static func published(_ image: UpstreamImage) -> Int64 {
        image.manifest["published_at"]?.stringValue.flatMap(Timestamp.milliseconds(fromISO8601:)) ?? 0
    }
}
