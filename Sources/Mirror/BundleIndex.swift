import IMGAPI
import ImageStore

/// The index of an offline bundle (`docs/bundle-format.md`): every image with its manifest,
/// and the size and digests of every entry it needs, origins before the images built on them.
public struct BundleIndex: Sendable {
    public static let format = "imgapi-bundle"
    public static let version = 1
    /// The index's entry name, plain and compressed with zstd.
    public static let name = "imgapi-bundle.json"
    public static let compressedName = name + ".zst"
    /// The largest index read: about 100,000 images.
    public static let maximumSize = 256 << 20

    /// One entry of the bundle: its name and what its bytes must be.
    public struct Entry: Sendable, Equatable {
        public var path: String
        public var size: Int64
        public var sha256: String
    }

    public struct Image: Sendable {
        /// The image as the API shows it to an operator (state, files, channels included).
        public var manifest: JSONObject
        public var file: Entry
        public var icon: Entry?
        public var iconType: String?

        public var uuid: String { manifest["uuid"]?.stringValue ?? "" }
        public var upstream: UpstreamImage { UpstreamImage(manifest) }
        /// "name@version", for messages.
        public var label: String {
            "\(uuid) (\(manifest["name"]?.stringValue ?? "")@\(manifest["version"]?.stringValue ?? ""))"
        }
    }

    public var created: String
    public var images: [Image]

    public init(created: String, images: [Image]) {
        self.created = created
        self.images = images
    }

    public static func filePath(_ sha256: String) -> String { "files/" + sha256 }
    public static func iconPath(_ uuid: String) -> String { "icons/" + uuid }

    public var json: JSONValue {
        .object(JSONObject([
            ("format", .string(Self.format)), ("version", .number(Double(Self.version))), ("created", .string(created)),
            ("images", .array(images.map { image in
                var fields: [(String, JSONValue)] = [("manifest", .object(image.manifest)), ("file", Self.json(image.file))]
                if let icon = image.icon {
                    var entry = Self.json(icon).objectValue ?? JSONObject()
                    entry["content_type"] = image.iconType.map(JSONValue.string)
                    fields.append(("icon", .object(entry)))
                }
                return .object(JSONObject(fields))
            })),
        ]))
    }

    private static func json(_ entry: Entry) -> JSONValue {
        .object(JSONObject([("path", .string(entry.path)), ("size", .number(Double(entry.size))), ("sha256", .string(entry.sha256))]))
    }

    /// Reads an index, and checks that it is whole: every image usable, its file entry agreeing
    /// with its manifest, every origin earlier in the bundle or among `present` images.
    public static func parse(_ bytes: [UInt8], present: (String) async throws -> Bool) async throws -> BundleIndex {
        guard let root = try? JSONValue.parse(bytes, maxDepth: 32).objectValue else {
            throw BundleError("the bundle's index is not a JSON object: the bundle is damaged")
        }
        guard root["format"]?.stringValue == format else { throw BundleError("this is not an imgapi bundle (its index has no \"format\": \"\(format)\")") }
        guard let version = root["version"]?.intValue, version <= Self.version else {
            throw BundleError("the bundle is of format version \(root["version"]?.intValue.map(String.init) ?? "?"), newer than this imgapid reads (\(Self.version)): import it with a newer imgapid")
        }
        var images: [Image] = []
        var seen = Set<String>()
        for (position, value) in (root["images"]?.arrayValue ?? []).enumerated() {
            guard let fields = value.objectValue, let manifest = fields["manifest"]?.objectValue,
                  let file = fields["file"].flatMap(entry) else {
                throw BundleError("image \(position + 1) of the bundle's index is malformed: the bundle is damaged")
            }
            var image = Image(manifest: manifest, file: file)
            if let icon = fields["icon"] {
                guard let entry = entry(icon), let type = icon.objectValue?["content_type"]?.stringValue else {
                    throw BundleError("image \(image.label): its icon entry is malformed: the bundle is damaged")
                }
                image.icon = entry
                image.iconType = type
            }
            let upstream = image.upstream
            if let reason = upstream.unusableReason { throw BundleError("image \(image.label) cannot be imported: \(reason)") }
            guard file.path == filePath(file.sha256), upstream.size == file.size,
                  upstream.sha1?.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) == true else {
                throw BundleError("image \(image.label): its file entry does not match its manifest: the bundle is damaged")
            }
            if let icon = image.icon, icon.path != iconPath(image.uuid) {
                throw BundleError("image \(image.label): its icon entry is misnamed: the bundle is damaged")
            }
            guard seen.insert(image.uuid).inserted else { throw BundleError("image \(image.label) is in the bundle twice") }
            if let origin = upstream.origin, !seen.contains(origin), try await !present(origin) {
                throw BundleError("image \(image.label) is built on image \(origin), which is neither earlier in the bundle nor here")
            }
            images.append(image)
        }
        return BundleIndex(created: root["created"]?.stringValue ?? "", images: images)
    }

    private static func entry(_ value: JSONValue) -> Entry? {
        guard let fields = value.objectValue, let path = fields["path"]?.stringValue,
              let size = fields["size"]?.intValue, size >= 0, Int64(size) <= BlobStore.maximumFileSize,
              let sha256 = fields["sha256"]?.stringValue, sha256.utf8.count == 64,
              sha256.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else { return nil }
        return Entry(path: path, size: Int64(size), sha256: sha256)
    }
}

/// Reports the bytes of image files a bundle's export or import has moved so far, of the total it will move.
public typealias BundleProgress = @Sendable (_ done: Int64, _ total: Int64) -> Void

/// Why a bundle cannot be written or read, in words for the operator.
public struct BundleError: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
