import IMGAPI
import ImageStore
import NIOCore
import ZFSStream

/// An upload body passed through an image file check (`ImageFileValidator`) as it is read;
/// at its end, the check's verdict: a refusal ends the body with its 422.
struct CheckedBody<Base: AsyncSequence & Sendable>: AsyncSequence, Sendable where Base.Element == ByteBuffer {
    typealias Element = ByteBuffer
    let base: Base
    let validator: ImageFileValidator?
    let verdict: Verdict

    /// What the check found, once the body ended.
    final class Verdict: @unchecked Sendable {
        var facts: ImageFileValidator.Facts?
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        let validator: ImageFileValidator?
        let verdict: Verdict

        mutating func next() async throws -> ByteBuffer? {
            guard let chunk = try await base.next() else {
                verdict.facts = try validator?.finish()
                return nil
            }
            try validator?.update(chunk)
            return chunk
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: base.makeAsyncIterator(), validator: validator, verdict: verdict)
    }
}

extension Endpoints {
    /// The check an upload for `image` goes through: for ZFS image types, a validator
    /// (nil when `validateStreams` is off); nil for other types.
    func streamValidator(for image: StoredImage, compression: ImageCompression) throws -> ImageFileValidator? {
        guard configuration.validateStreams, isStream(image) else { return nil }
        return try ImageFileValidator(compression: compression)
    }

    func isStream(_ image: StoredImage) -> Bool {
        ImageFileValidator.streamTypes.contains(image.record["type"]?.stringValue ?? "")
    }

    /// What is recorded of an upload's stream check, after `lineage` allowed it.
    func streamCheck(for image: StoredImage, facts: ImageFileValidator.Facts?) -> ImageFile.StreamCheck? {
        guard isStream(image) else { return nil }
        return ImageFile.StreamCheck(validated: facts != nil, toGUID: facts?.toGUID)
    }

    /// The lineage rule (`ImageFileValidator.Facts.checkLineage`) for `image`, whose origin is here.
    func checkLineage(_ facts: ImageFileValidator.Facts, of image: StoredImage, datasetGUID: String?) async throws {
        let origin = image.record["origin"]?.stringValue
        var originGUID: String?
        if let origin { originGUID = try await repository.catalog.image(origin)?.files.first?.snapshotGUID }
        try facts.checkLineage(image: image.uuid, origin: origin, originGUID: originGUID, datasetGUID: datasetGUID)
    }
}
