import AsyncAlgorithms
import Foundation
import IMGAPI
import ImageStore
import NIOCore
import ZFSStream

/// Chunks an upload's check may fall behind its reading by (each at most one read's worth):
/// enough that neither side waits for the other on every chunk.
private let checkQueue = 16

/// An upload body passed through an image file check (`ImageFileValidator`) as it is read.
/// The check runs in a task of its own, one chunk behind the reading (which digests and
/// writes), so the two use two cores; a refusal ends the body with its 422 at the next
/// chunk, and at the end the body waits for the check's verdict.
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
        private let chunks = AsyncThrowingChannel<ByteBuffer, any Error>()
        private let lock = NSLock()
        private var refusal: (any Error)?
        private(set) var facts: ImageFileValidator.Facts?
        private var task: Task<ImageFileValidator.Facts, any Error>?

        init(_ validator: ImageFileValidator) {
            let chunks = self.chunks
            task = Task(executorPreference: CPUExecutor.shared) { [weak self] in
                do {
                    for try await chunk in chunks.buffer(policy: .bounded(checkQueue)) { try validator.update(chunk) }
                    return try validator.finish()
                } catch {
                    self?.lock.withLock { self?.refusal = error }
                    for try await _ in chunks {}  // the reader still hands chunks over until it sees the refusal
                    throw error
                }
            }
        }

        deinit { chunks.finish() }

        func pass(_ chunk: ByteBuffer) async throws {
            if let refusal = lock.withLock({ refusal }) { throw refusal }
            await chunks.send(chunk)
        }

        func finish() async throws {
            chunks.finish()
            facts = try await task?.value
        }
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        let check: Check?

        mutating func next() async throws -> ByteBuffer? {
            guard let chunk = try await base.next() else {
                try await check?.finish()
                return nil
            }
            try await check?.pass(chunk)
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
