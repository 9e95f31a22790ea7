import AsyncAlgorithms
import Foundation
import IMGAPI
import ImageStore
import NIOCore
import ZFSStream

/// Batches (`ChunkBatch`) an upload's check may fall behind its reading by: enough that
/// neither side waits for the other on every batch.
private let checkQueue = 4

/// An upload body passed through an image file check (`ImageFileValidator`) as it is read.
/// The check runs in a task of its own, a few batches of chunks behind the reading (which
/// digests and writes), so the two use two cores; a refusal ends the body with its 422 at
/// the next batch, and at the end the body waits for the check's verdict.
struct CheckedBody<Base: AsyncSequence & Sendable>: AsyncSequence, Sendable where Base.Element == ByteBuffer {
    typealias Element = ByteBuffer
    let base: Base
    let check: Check?

    init(base: Base, validator: ImageFileValidator?) {
        self.base = base
        check = validator.map(Check.init)
    }

    /// The facts of a valid stream, once the body ended (nil when there was no check).
    var facts: ImageFileValidator.Facts? { check?.facts }

    /// The check's task and what it found.
    final class Check: @unchecked Sendable {
        private let batches = AsyncThrowingChannel<[ByteBuffer], any Error>()
        private let lock = NSLock()
        private var refusal: (any Error)?
        private(set) var facts: ImageFileValidator.Facts?
        private var task: Task<ImageFileValidator.Facts, any Error>?

        init(_ validator: ImageFileValidator) {
            let batches = self.batches
            task = Task(executorPreference: CPUExecutor.shared) { [weak self] in
                do {
                    for try await batch in batches.buffer(policy: .bounded(checkQueue)) {
                        for chunk in batch { try validator.update(chunk) }
                    }
                    return try validator.finish()
                } catch {
                    self?.lock.withLock { self?.refusal = error }
                    for try await _ in batches {}  // the reader still hands batches over until it sees the refusal
                    throw error
                }
            }
        }

        deinit { batches.finish() }

        func pass(_ batch: [ByteBuffer]) async throws {
            if let refusal = lock.withLock({ refusal }) { throw refusal }
            await batches.send(batch)
        }

        func finish() async throws {
            batches.finish()
            facts = try await task?.value
        }
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        let check: Check?
        var batch = ChunkBatch()

        mutating func next() async throws -> ByteBuffer? {
            guard let chunk = try await base.next() else {
                if let rest = batch.rest() { try await check?.pass(rest) }
                try await check?.finish()
                return nil
            }
            if check != nil, let full = batch.add(chunk) { try await check?.pass(full) }
            return chunk
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: base.makeAsyncIterator(), check: check)
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
        if let origin { originGUID = try await repository.catalog.snapshotGUID(of: origin) }
        try facts.checkLineage(image: image.uuid, origin: origin, originGUID: originGUID, datasetGUID: datasetGUID)
    }
}
