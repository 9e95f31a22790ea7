import Foundation
import IMGAPI

extension ImageRepository {
    /// The file of an image copied from another server.
    public enum ImportedFile: Sendable {
        /// Bytes just received, to verify and install.
        case staged(StagedBlob, expected: FileExpectation)
        /// The same bytes (same sha1) already stored for another image.
        case existing(ImageFile)
    }

    /// Adds an image copied from another server together with its file, in the state it had
    /// there (`activated`, `disabled` as recorded in `record`), all in one catalog
    /// transaction: the image is never visible without its file. Origins already here join
    /// the image's channels. `mirroredFrom` records the upstream for `imgapid mirror --prune`;
    /// `icon`, the upstream image's icon; `mtime`, when a staged file was first uploaded (now
    /// when not given).
    public func addImported(_ record: JSONObject, file source: ImportedFile, compression: String, datasetGUID: String?,
                            stream: ImageFile.StreamCheck? = nil, icon: ImageIcon? = nil,
                            mirroredFrom: String? = nil, cachedFrom: String? = nil, mtime: Int64? = nil) async throws -> StoredImage {
        do {
            if case .staged(let staged, let expected) = source { try Self.verify(staged.digests, against: expected) }
            let blobs = self.blobs
            return try await catalog.exclusive { catalog in
                var record = record
                let uuid = record["uuid"]?.stringValue ?? ""
                guard try !catalog.exists(uuid) else { throw IMGAPIError.imageUuidAlreadyExists(uuid) }
                if let origin = record["origin"]?.stringValue, try !catalog.exists(origin) {
                    throw IMGAPIError.originDoesNotExist(origin)
                }
                var file: ImageFile
                switch source {
                case .staged(let staged, _):
                    file = ImageFile(sha256: staged.digests.sha256, sha1: staged.digests.sha1,
                                     contentMD5: staged.digests.contentMD5, size: staged.digests.size,
                                     compression: compression, datasetGUID: datasetGUID,
                                     mtime: mtime ?? Int64(Date().timeIntervalSince1970 * 1000), stream: stream)
                case .existing(let stored):
                    guard try catalog.references(toBlob: stored.sha256) > 0 else {
                        throw IMGAPIError.storageIsDown("the stored copy of file \(stored.sha1) went away")
                    }
                    file = stored
                    file.compression = compression
                    file.datasetGUID = datasetGUID
                }
                record["files"] = .array([file.json])
                let activated = record["activated"]?.boolValue ?? false
                let disabled = record["disabled"]?.boolValue ?? false
                record["state"] = .string(ImageState.derive(activated: activated, disabled: disabled).rawValue)
                if activated { Self.stampPublished(&record) }
                if icon != nil { record["icon"] = .bool(true) }
                let commit = {
                    try catalog.transaction {
                        if let icon { try catalog.setIcon(uuid, icon) }
                        let channels = (record["channels"]?.arrayValue ?? []).compactMap(\.stringValue)
                        if !channels.isEmpty { try Self.extendOriginChain(of: record, into: channels, catalog) }
                        let stored = try catalog.save(record)
                        if let mirroredFrom { try catalog.recordMirrorSource(uuid, mirroredFrom) }
                        if let cachedFrom { try catalog.recordCached(uuid, from: cachedFrom) }
                        return stored
                    }
                }
                guard case .staged(let staged, _) = source else { return try commit() }
                return try Self.installing(staged, blobs: blobs, catalog: catalog, commit)
            }
        } catch {
            if case .staged(let staged, _) = source { await blobs.discard(staged) }
            throw error
        }
    }

    /// A mirror selected an image the pull-through cache brought in: it is now a mirrored
    /// image of `source`, which the cache never evicts.
    public func adoptMirrored(_ uuid: String, from source: String) async throws {
        try await catalog.exclusive { catalog in
            try catalog.transaction {
                try catalog.recordMirrorSource(uuid, source)
                try catalog.forgetCached(uuid)
            }
        }
    }
}
