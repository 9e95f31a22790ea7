import IMGAPI

/// The stored facts about an image's file, as kept in `files[i]` of the record.
public struct ImageFile: Sendable, Equatable {
    public var sha256: String
    public var sha1: String
    /// Base64, as sent in `Content-MD5`.
    public var contentMD5: String
    public var size: Int64
    public var compression: String
    public var datasetGUID: String?
    /// When the file was uploaded (epoch milliseconds): the download's `Last-Modified`.
    public var mtime: Int64
    /// For a ZFS send stream: whether it was checked when accepted (`validateStreams`), and
    /// the guid of the snapshot it makes, which its children's incremental streams start from.
    public var stream: StreamCheck?

    /// What the check of a ZFS send stream found (`stream_validated`, `stream_toguid`).
    public struct StreamCheck: Sendable, Equatable {
        public var validated: Bool
        public var toGUID: String?

        public init(validated: Bool, toGUID: String?) {
            self.validated = validated
            self.toGUID = toGUID
        }
    }

    public init(sha256: String, sha1: String, contentMD5: String, size: Int64, compression: String,
                datasetGUID: String?, mtime: Int64, stream: StreamCheck? = nil) {
        self.sha256 = sha256
        self.sha1 = sha1
        self.contentMD5 = contentMD5
        self.size = size
        self.compression = compression
        self.datasetGUID = datasetGUID
        self.mtime = mtime
        self.stream = stream
    }

    /// Reads a record's file entry; nil when it lacks what the store needs to serve it.
    public init?(_ json: JSONValue) {
        guard let o = json.objectValue,
              let sha256 = o["sha256"]?.stringValue, let sha1 = o["sha1"]?.stringValue,
              let md5 = o["contentMD5"]?.stringValue, let size = o["size"]?.intValue,
              let compression = o["compression"]?.stringValue,
              let mtime = o["mtime"]?.stringValue.flatMap(Timestamp.milliseconds(fromISO8601:)) else { return nil }
        let stream = o["stream_validated"]?.boolValue.map { StreamCheck(validated: $0, toGUID: o["stream_toguid"]?.stringValue) }
        self.init(sha256: sha256, sha1: sha1, contentMD5: md5, size: Int64(size), compression: compression,
                  datasetGUID: o["dataset_guid"]?.stringValue, mtime: mtime, stream: stream)
    }

    /// The guid of the snapshot this file makes, as far as it is known.
    public var snapshotGUID: String? { stream?.toGUID ?? datasetGUID }

    /// The record form: API keys first (`sha1, size, compression, dataset_guid`), then the store's own.
    public var json: JSONValue {
        var o = JSONObject([("sha1", .string(sha1)), ("size", .number(Double(size))), ("compression", .string(compression))])
        if let datasetGUID { o["dataset_guid"] = .string(datasetGUID) }
        o["sha256"] = .string(sha256)
        o["contentMD5"] = .string(contentMD5)
        o["mtime"] = .string(Timestamp.iso8601(milliseconds: mtime))
        o["stor"] = .string("local")
        if let stream {
            o["stream_validated"] = .bool(stream.validated)
            if let toGUID = stream.toGUID { o["stream_toguid"] = .string(toGUID) }
        }
        return .object(o)
    }
}

extension Catalog {
    /// The snapshot guid the file of image `uuid` makes, when the image is here and it is known:
    /// where its children's incremental streams must start.
    public func snapshotGUID(of uuid: String) async throws -> String? {
        try await image(uuid)?.files.first?.snapshotGUID
    }
}

extension JSONObject {
    /// The image's files as the store recorded them.
    public var imageFiles: [ImageFile] {
        (self["files"]?.arrayValue ?? []).compactMap(ImageFile.init)
    }
}
