import IMGAPI

extension ImageRepository {
    /// Takes a stored file out of service after it failed verification: it is moved to
    /// `quarantine/` and recorded with `problem`, so its images stay listed but their file
    /// answers 503 instead of bad bytes. When `identity` is given and the file was replaced
    /// meanwhile (a verified upload healed it), nothing happens. Returns whether the file is
    /// now quarantined.
    @discardableResult
    public func quarantine(_ sha256: String, problem: String, ifStill identity: BlobStore.FileIdentity? = nil) async throws -> Bool {
        let blobs = self.blobs
        return try await catalog.exclusive { catalog in
            guard try catalog.references(toBlob: sha256) > 0 else { return false }
            if let identity, BlobStore.FileIdentity.of(blobs.path(forSHA256: sha256)) != identity { return false }
            try blobs.moveToQuarantine(sha256: sha256, ifStill: identity)
            try catalog.quarantine(sha256, problem: problem)
            return true
        }
    }

    /// 503 for an image whose file is quarantined: what happened and what to do.
    public static func quarantinedFile(of uuid: String, problem: String) -> IMGAPIError {
        IMGAPIError.serviceUnavailable(
            "the file of image \(uuid) failed verification (\(problem)) and is quarantined: the operator can publish "
                + "the same file again or run `imgapid scrub --repair-from URL`")
    }
}
