import IMGAPI

extension ImageRepository {
    /// Replaces an image's record with `change(record)` in one transaction; a new `origin`
    /// must exist. Used by UpdateImage and the ACL and icon endpoints.
    public func modify(_ uuid: String, _ change: @escaping @Sendable (JSONObject) throws -> JSONObject) async throws -> StoredImage {
        try await catalog.exclusive { catalog in
            guard let image = try catalog.image(uuid) else { throw IMGAPIError.imageNotFound(uuid) }
            let record = try change(image.record)
            if let origin = record["origin"]?.stringValue, origin != image.record["origin"]?.stringValue {
                guard origin != uuid, try catalog.exists(origin) else { throw IMGAPIError.originDoesNotExist(origin) }
            }
            return try catalog.transaction { try catalog.save(record) }
        }
    }
}
