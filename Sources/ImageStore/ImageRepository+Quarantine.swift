import IMGAPI

extension ImageRepository {
    /// Takes a stored file out of service after it failed verification: it is moved to
    /// `quarantine/` and recorded with `problem`, so its images stay listed but their file
    /// answers 503 instead of bad bytes. `identity` is the file that failed, nil when it was
    /// missing; when the file was replaced (or came back) meanwhile, a verified upload
    /// healed it and nothing happens. Returns whether the file is now quarantined.
    @discardableResult
    public func quarantine(_ sha256: String, problem: String, ifStill identity: BlobStore.FileIdentity?) async throws -> Bool {
        let blobs = self.blobs
        return try await catalog.exclusive { catalog in
            guard try catalog.references(toBlob: sha256) > 0,
                  BlobStore.FileIdentity.of(blobs.path(forSHA256: sha256)) == identity else { return false }
            try blobs.moveToQuarantine(sha256: sha256, ifStill: identity)
            try catalog.quarantine(sha256, problem: problem)
            return true
        }
    }

    /// Puts back a quarantined file from a verified copy: `staged` must have the digests and
    /// size the catalog records for `file`.
    public func restore(_ staged: StagedBlob, as file: ImageFile) async throws {
        do {
            try Self.verify(staged.digests, against: FileExpectation(sha1: file.sha1, sha256: file.sha256, size: file.size))
            let blobs = self.blobs
            try await catalog.exclusive { catalog in try Self.installing(staged, blobs: blobs, catalog: catalog) {} }
        } catch {
            await blobs.discard(staged)
            throw error
        }
    }

    /// 503 for an image whose file is quarantined: what happened and what to do.
    public static func quarantinedFile(of uuid: String, problem: String) -> IMGAPIError {
        IMGAPIError.serviceUnavailable(
            "the file of image \(uuid) failed verification (\(problem)) and is quarantined: the operator can publish "
                + "the same file again or run `imgapid scrub --repair-from URL`")
    }
}
