import Foundation
import IMGAPI

extension ImageRepository {
    /// Adds an image copied from another server together with its verified file, in the
    /// state it had there (`activated`, `disabled` as recorded in `record`), all in one
    /// catalog transaction: the image is never visible without its file.
    public func addImported(_ record: JSONObject, staged: StagedBlob, compression: String, datasetGUID: String?,
                            expected: FileExpectation) async throws -> StoredImage {
        do {
            try Self.verify(staged.digests, against: expected)
            let blobs = self.blobs
            return try await catalog.exclusive { catalog in
                var record = record
                let uuid = record["uuid"]?.stringValue ?? ""
                guard try !catalog.exists(uuid) else { throw IMGAPIError.imageUuidAlreadyExists(uuid) }
                if let origin = record["origin"]?.stringValue, try !catalog.exists(origin) {
                    throw IMGAPIError.originDoesNotExist(origin)
                }
                let file = ImageFile(sha256: staged.digests.sha256, sha1: staged.digests.sha1,
                                     contentMD5: staged.digests.contentMD5, size: staged.digests.size,
                                     compression: compression, datasetGUID: datasetGUID,
                                     mtime: Int64(Date().timeIntervalSince1970 * 1000))
                record["files"] = .array([file.json])
                let activated = record["activated"]?.boolValue ?? false
                let disabled = record["disabled"]?.boolValue ?? false
                record["state"] = .string(ImageState.derive(activated: activated, disabled: disabled).rawValue)
                try blobs.install(staged)
                return try catalog.transaction { try catalog.save(record) }
            }
        } catch {
            await blobs.discard(staged)
            throw error
        }
    }
}
