import IMGAPI
import IMGAPIClient
import ImageStore

/// Puts quarantined files back from another IMGAPI server (`imgapid scrub --repair-from`):
/// each is downloaded as the file of one of the images that use it and restored only if
/// its size, SHA-256 and SHA-1 are the ones the catalog records.
public struct QuarantineRepair: Sendable {
    public let repository: ImageRepository

    public init(repository: ImageRepository) {
        self.repository = repository
    }

    /// Repairs every quarantined file it can; returns, for each one tried, the error that
    /// left it quarantined (nil: repaired).
    public func run(from client: IMGAPIClient) async throws -> [(sha256: String, error: String?)] {
        var results: [(String, String?)] = []
        for entry in try await repository.catalog.quarantined() {
            var failure = "no image uses it"
            for uuid in entry.images {
                guard let file = try await repository.catalog.image(uuid)?.files.first(where: { $0.sha256 == entry.sha256 }) else {
                    continue
                }
                do {
                    try await fetch(file, of: uuid, from: client)
                    failure = ""
                    break
                } catch {
                    failure = "from \(uuid): \((error as? IMGAPIError)?.message ?? "\(error)")"
                }
            }
            results.append((entry.sha256, failure.isEmpty ? nil : failure))
        }
        return results
    }

    private func fetch(_ file: ImageFile, of uuid: String, from client: IMGAPIClient) async throws {
        let (response, _) = try await client.downloadFile(uuid)
        let staged = try await repository.blobs.receive(response.body, maxSize: file.size, expectedSize: file.size)
        try await repository.restore(staged, as: file)
    }
}
