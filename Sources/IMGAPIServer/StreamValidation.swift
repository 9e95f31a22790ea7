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

    /// A valid stream must also fit its image: incremental from the origin's snapshot when
    /// the image has an origin, full when it has none, and making the `dataset_guid` given.
    func checkLineage(_ facts: ImageFileValidator.Facts, of image: StoredImage, datasetGUID: String?) async throws {
        let uuid = image.uuid
        if let datasetGUID, datasetGUID != facts.toGUID {
            throw IMGAPIError.invalidImageFile("the stream makes snapshot guid \(facts.toGUID), not the dataset_guid \(datasetGUID) given")
        }
        guard let originUUID = image.record["origin"]?.stringValue else {
            if let from = facts.fromGUID {
                throw IMGAPIError.invalidImageFile(
                    "image \(uuid) has no origin, but its stream is incremental from snapshot guid \(from): send a full stream, or set the origin")
            }
            return
        }
        guard let from = facts.fromGUID else {
            throw IMGAPIError.invalidImageFile(
                "image \(uuid) has origin \(originUUID), but its stream is a full one: send it incremental from the origin's snapshot (zfs send -i)")
        }
        guard let expected = try await repository.catalog.image(originUUID)?.files.first?.snapshotGUID else { return }
        guard from == expected else {
            throw IMGAPIError.invalidImageFile(
                "the stream is incremental from snapshot guid \(from), but origin \(originUUID) is snapshot guid \(expected): send it from the origin's snapshot")
        }
    }
}
