import IMGAPI

/// An image as another IMGAPI server lists it, with the facts about its file that a
/// copy must match.
public struct UpstreamImage: Sendable {
    public let manifest: JSONObject
    public var uuid: String { manifest["uuid"]?.stringValue ?? "" }
    public var origin: String? { manifest["origin"]?.stringValue }
    public var state: String? { manifest["state"]?.stringValue }
    public var file: JSONObject? { manifest["files"]?.arrayValue?.first?.objectValue }
    public var sha1: String? { file?["sha1"]?.stringValue }
    public var size: Int64? { file?["size"]?.intValue.map(Int64.init) }
    public var compression: String? { file?["compression"]?.stringValue }
    public var datasetGUID: String? { file?["dataset_guid"]?.stringValue }

    /// Activated upstream (active or disabled): unactivated, creating and failed images are
    /// not images yet, and a mirror passes them by.
    public var isActivated: Bool { state == "active" || state == "disabled" }

    public init(_ manifest: JSONObject) {
        self.manifest = manifest
    }

    /// Why this manifest cannot be copied, if it cannot: a copy needs an activated image
    /// with one file whose sha1, size and compression are known.
    public var unusableReason: String? {
        guard ImageUUID.isValid(uuid) else { return "upstream image has no valid uuid" }
        guard isActivated else { return "upstream image \(uuid) is \(state ?? "in no state"), not active" }
        guard let sha1, sha1.utf8.count == 40 else { return "upstream image \(uuid) has no file sha1" }
        guard let size, size > 0 else { return "upstream image \(uuid) has no file size" }
        guard let compression, ImageCompression(rawValue: compression) != nil else {
            return "upstream image \(uuid) has an unknown compression"
        }
        return nil
    }
}
