import IMGAPI

extension ImageRepository {
    /// AddImageIcon: stores the icon and marks the image `icon: true`, in one transaction.
    public func setIcon(_ uuid: String, _ icon: ImageIcon) async throws -> StoredImage {
        try await catalog.exclusive { catalog in
            guard var record = try catalog.image(uuid)?.record else { throw IMGAPIError.imageNotFound(uuid) }
            record["icon"] = .bool(true)
            return try catalog.transaction {
                try catalog.setIcon(uuid, icon)
                return try catalog.save(record)
            }
        }
    }

    /// DeleteImageIcon: 404 when the image has no icon.
    public func removeIcon(_ uuid: String) async throws -> StoredImage {
        try await catalog.exclusive { catalog in
            guard var record = try catalog.image(uuid)?.record else { throw IMGAPIError.imageNotFound(uuid) }
            record["icon"] = nil
            return try catalog.transaction {
                guard try catalog.removeIcon(uuid) else { throw IMGAPIError.resourceNotFound("image \"\(uuid)\" has no icon") }
                return try catalog.save(record)
            }
        }
    }
}
