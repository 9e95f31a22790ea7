import IMGAPI
import NIOCore
import NIOFileSystem

/// Checks an image file whose type holds a ZFS send stream (zone-dataset, lx-dataset,
/// zvol) as it streams in: decompressed as declared, then read as a send stream, beside the
/// digests in the same pass. A file that is not a complete, well-formed stream is refused
/// (422 `InvalidImageFile`) with what is wrong.
public final class ImageFileValidator: @unchecked Sendable {
    /// The image types whose file is a ZFS send stream.
    public static let streamTypes: Set<String> = ["zone-dataset", "lx-dataset", "zvol"]

    /// What a valid stream says about itself.
    public struct Facts: Sendable, Equatable {
        /// The guid of the snapshot the stream makes (`dataset_guid`).
        public var toGUID: String
        /// The guid of the snapshot it is incremental from; nil for a full stream.
        public var fromGUID: String?

        /// A valid stream must also fit its image: incremental from exactly the origin's
        /// snapshot (`originGUID`, when known) when the image has an origin, full when it has
        /// none, and making the `datasetGUID` given.
        public func checkLineage(image uuid: String, origin: String?, originGUID: String?, datasetGUID: String?) throws {
            if let datasetGUID, datasetGUID != toGUID {
                throw IMGAPIError.invalidImageFile("the stream makes snapshot guid \(toGUID), not the dataset_guid \(datasetGUID) given")
            }
            guard let origin else {
                if let fromGUID {
                    throw IMGAPIError.invalidImageFile(
                        "image \(uuid) has no origin, but its stream is incremental from snapshot guid \(fromGUID): send a full stream, or set the origin")
                }
                return
            }
            guard let fromGUID else {
                throw IMGAPIError.invalidImageFile(
                    "image \(uuid) has origin \(origin), but its stream is a full one: send it incremental from the origin's snapshot (zfs send -i)")
            }
            if let originGUID, fromGUID != originGUID {
                throw IMGAPIError.invalidImageFile(
                    "the stream is incremental from snapshot guid \(fromGUID), but origin \(origin) is snapshot guid \(originGUID): send it from the origin's snapshot")
            }
        }
    }

    private let compression: ImageCompression
    private let decompressor: any Decompressor
    private var parser = SendStreamParser()

    public init(compression: ImageCompression) throws {
        self.compression = compression
        decompressor = try makeDecompressor(compression)
    }

    public func update(_ chunk: ByteBuffer) throws {
        try chunk.withUnsafeReadableBytes { bytes in
            do {
                try decompressor.feed(bytes) { try parser.feed($0) }
            } catch {
                throw refusal(error)
            }
        }
    }

    /// The input ended: the facts of a valid stream, or the refusal.
    public func finish() throws -> Facts {
        do {
            try decompressor.finish { try parser.feed($0) }
            let facts = try parser.finish()
            return Facts(toGUID: String(facts.toGUID), fromGUID: facts.fromGUID == 0 ? nil : String(facts.fromGUID))
        } catch {
            throw refusal(error)
        }
    }

    /// Checks a file already on disk (a download that resumed, or a copy from another server).
    public static func check(fileAt path: String, compression: ImageCompression) async throws -> Facts {
        let validator = try ImageFileValidator(compression: compression)
        try await FileSystem.shared.withFileHandle(forReadingAt: FilePath(path)) { handle in
            for try await chunk in handle.readChunks(chunkLength: .mebibytes(1)) { try validator.update(chunk) }
        }
        return try validator.finish()
    }

    private func refusal(_ error: any Error) -> IMGAPIError {
        if let error = error as? IMGAPIError { return error }
        let after = compression == .none ? "" : " (after \(compression.rawValue) decompression)"
        let what: String
        switch error {
        case let failure as DecompressionError: what = "the file is not what its compression \"\(compression.rawValue)\" says: \(failure)"
        case let failure as SendStreamParser.Failure: what = "the file is not a valid ZFS send stream\(after): \(failure)"
        default: what = "the file could not be read as a ZFS send stream: \(error)"
        }
        return IMGAPIError.invalidImageFile(what)
    }
}
