import Foundation
import IMGAPI
import IMGAPIClient
import ImageStore
import NIOCore
import ZFSStream

/// Copies images from another IMGAPI server into the local repository: each file is
/// streamed into the blob store and checked against the upstream manifest's sha1 and
/// size (and `Content-MD5` when sent) before the image appears, with its file, in one
/// catalog transaction. Used by remote import (`action=import-remote`) and `imgapid mirror`.
public struct RemoteImport: Sendable {
    public let repository: ImageRepository
    /// Whether files of ZFS image types are checked as send streams (`validateStreams`).
    public let validateStreams: Bool

    public init(repository: ImageRepository, validateStreams: Bool = true) {
        self.repository = repository
        self.validateStreams = validateStreams
    }

    /// Called with the bytes received so far of the file being copied.
    public typealias Progress = @Sendable (_ bytes: Int64) -> Void

    /// The upstream manifest of `uuid`; any failure, a 404 included, is a `RemoteSourceError`.
    /// With `anyChannel`, an image outside the client's channel is looked for in all of them.
    public func manifest(_ uuid: String, from client: IMGAPIClient, anyChannel: Bool = false) async throws -> UpstreamImage {
        do {
            if let manifest = try await client.image(uuid) { return UpstreamImage(manifest) }
            guard anyChannel, client.channel != nil, let manifest = try await client.inChannel("*").image(uuid) else {
                throw Self.notFoundUpstream(uuid, client)
            }
            return UpstreamImage(manifest)
        } catch let error as IMGAPIClientError {
            throw IMGAPIError.remoteSource("\(error)")
        }
    }

    /// What must be copied for `image` to be usable here: the origins missing locally, base
    /// first, then the image. The walk stops at an origin present here; an origin outside
    /// the client's upstream channel is looked for in every channel. With
    /// `requireActiveOrigins`, a local or upstream origin that is not active is refused
    /// (`422 OriginIsNotActive`), as the reference's import-remote does.
    public func missingChain(of image: UpstreamImage, from client: IMGAPIClient,
                             requireActiveOrigins: Bool) async throws -> [UpstreamImage] {
        var chain = [image]
        var next = image.origin
        while let origin = next {
            if let local = try await repository.catalog.image(origin) {
                if requireActiveOrigins, local.record["state"]?.stringValue != ImageState.active.rawValue {
                    throw Self.originIsNotActive(origin)
                }
                break
            }
            guard chain.count < 256, !chain.contains(where: { $0.uuid == origin }) else {
                throw IMGAPIError.remoteSource("the origin chain of \(image.uuid) on \(client.baseURL) loops or is too long")
            }
            let upstream = try await manifest(origin, from: client, anyChannel: true)
            if requireActiveOrigins, upstream.state != ImageState.active.rawValue { throw Self.originIsNotActive(origin) }
            chain.append(upstream)
            next = upstream.origin
        }
        return chain.reversed()
    }

    /// A `RemoteSourceError` naming the uuid as not found: retrying will not help.
    static func notFoundUpstream(_ uuid: String, _ client: IMGAPIClient) -> IMGAPIError {
        IMGAPIError(status: 503, code: "RemoteSourceError", message: "image \(uuid) not found on \(client.baseURL)",
                    errors: [FieldError(field: "uuid", code: "NotFound")])
    }

    /// Whether a failed copy may succeed if tried again: the upstream was unreachable, broke
    /// off or answered 5xx, as opposed to a missing image or a file that does not match.
    public static func isTransient(_ error: any Error) -> Bool {
        if let error = error as? IMGAPIClientError { return error.isTransient }
        guard let error = error as? IMGAPIError, error.code == "RemoteSourceError" else { return false }
        return !(error.errors ?? []).contains { $0.code == "NotFound" }
    }

    static func originIsNotActive(_ uuid: String) -> IMGAPIError {
        IMGAPIError(status: 422, code: "OriginIsNotActive", message: "origin image \(uuid) is not active")
    }

    /// The local record of an upstream image, made as AdminImportImage makes one, in the
    /// state it has upstream. `keepOwner` keeps the upstream owner (mirrors); otherwise the
    /// owner is the zero uuid, as AdminImportImage sets it.
    public func record(for image: UpstreamImage, keepOwner: Bool) throws -> JSONObject {
        try Self.record(for: image, keepOwner: keepOwner, mode: repository.mode)
    }

    static func record(for image: UpstreamImage, keepOwner: Bool, mode: ServerMode) throws -> JSONObject {
        var record = try ImageDraft.forImport(uuid: image.uuid, body: .object(image.manifest), mode: mode)
        if keepOwner, let owner = image.manifest["owner"], owner.stringValue.map(ImageUUID.isValid) == true {
            record["owner"] = owner
        }
        record["activated"] = .bool(true)
        record["disabled"] = .bool(image.state == ImageState.disabled.rawValue)
        return record
    }

    /// Copies one image whose origin (if any) is already here (see `record(for:keepOwner:)`).
    /// `channels` are the local channels the copy joins, on a server with channels. A file
    /// already stored (same sha1 and size) is not fetched again. With `resumable`, a
    /// download that breaks off keeps its bytes for the next attempt, and `written` hears how
    /// many of them are on disk in `partial/` as they land. `mirroredFrom` and `cachedFrom`
    /// are recorded with the image (see `ImageRepository.addImported`).
    @discardableResult
    public func copy(_ image: UpstreamImage, from client: IMGAPIClient, keepOwner: Bool, channels: [String]? = nil,
                     mirroredFrom: String? = nil, cachedFrom: String? = nil, resumable: Bool = false,
                     progress: Progress? = nil, written: Progress? = nil) async throws -> StoredImage {
        if let reason = image.unusableReason { throw IMGAPIError.remoteSource(reason) }
        var record = try record(for: image, keepOwner: keepOwner)
        if let channels { record["channels"] = .array(channels.map(JSONValue.string)) }
        // An origin may be outside the source's channel: its icon and file are read across channels.
        let client = client.channel == nil ? client : client.inChannel("*")
        let compression = image.compression ?? "none"
        let icon = image.manifest["icon"] == .bool(true) ? try await icon(of: image, from: client) : nil
        // The same bytes already stored are used, unless they failed verification: then a
        // verified download replaces them.
        if let sha1 = image.sha1, let stored = try await repository.catalog.file(withSHA1: sha1.lowercased()), stored.size == image.size,
           try await repository.catalog.quarantineProblem(stored.sha256) == nil {
            return try await repository.addImported(record, file: .existing(stored), compression: compression,
                                                    datasetGUID: image.datasetGUID, icon: icon, mirroredFrom: mirroredFrom,
                                                    cachedFrom: cachedFrom)
        }
        let staged = resumable ? try await stageResumably(image, from: client, progress: progress, written: written)
                               : try await stageFile(of: image, from: client, progress: progress)
        let stream: ImageFile.StreamCheck?
        do { stream = try await streamCheck(of: staged, for: image) } catch {
            await repository.blobs.discard(staged)
            throw error
        }
        return try await repository.addImported(
            record, file: .staged(staged, expected: .init(sha1: image.sha1, size: image.size)),
            compression: compression, datasetGUID: image.datasetGUID, stream: stream, icon: icon, mirroredFrom: mirroredFrom,
            cachedFrom: cachedFrom)
    }

    /// For an image type that holds a ZFS send stream, the check of its copied file (read
    /// back from disk: a resumed download arrived in pieces) and of its lineage to its
    /// origin, which is here by now; nil for other types. The caller discards `staged` when
    /// it throws.
    public func streamCheck(of staged: StagedBlob, for image: UpstreamImage) async throws -> ImageFile.StreamCheck? {
        guard ImageFileValidator.streamTypes.contains(image.manifest["type"]?.stringValue ?? "") else { return nil }
        guard validateStreams else { return ImageFile.StreamCheck(validated: false, toGUID: nil) }
        let compression = ImageCompression(rawValue: image.compression ?? "none") ?? .none
        let facts = try await ImageFileValidator.check(fileAt: staged.path, compression: compression)
        var originGUID: String?
        if let origin = image.origin { originGUID = try await repository.catalog.snapshotGUID(of: origin) }
        try facts.checkLineage(image: image.uuid, origin: image.origin, originGUID: originGUID, datasetGUID: image.datasetGUID)
        return ImageFile.StreamCheck(validated: true, toGUID: facts.toGUID)
    }

    /// The upstream icon of `image`, held to what AddImageIcon accepts.
    public func icon(of image: UpstreamImage, from client: IMGAPIClient) async throws -> ImageIcon {
        let fetched: (contentType: String, bytes: [UInt8])
        do { fetched = try await client.icon(image.uuid, limit: ImageIcon.maximumSize) } catch let error as IMGAPIClientError {
            throw IMGAPIError.remoteSource("the icon of \(image.uuid): \(error)")
        }
        let type = fetched.contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        guard ImageIcon.contentTypes.contains(type), !fetched.bytes.isEmpty else {
            throw IMGAPIError.download("the icon of \(image.uuid) from \(client.baseURL) is not a PNG, JPEG or GIF")
        }
        return ImageIcon(contentType: type, bytes: fetched.bytes)
    }

    /// Streams the upstream file of `image` into `uploads/`, digesting it; refuses a file
    /// longer than the manifest says or whose `Content-MD5` differs. The caller verifies
    /// sha1 and size when it adopts the staged file.
    public func stageFile(of image: UpstreamImage, from client: IMGAPIClient,
                          progress: Progress? = nil) async throws -> StagedBlob {
        let response = try await download(image, from: client, offset: 0).response
        let staged: StagedBlob
        do {
            staged = try await repository.blobs.receive(ProgressReportingBody(base: response.body, progress: progress),
                                                        maxSize: image.size ?? BlobStore.maximumFileSize)
        } catch let error as IMGAPIError where error.code == "Upload" {
            throw IMGAPIError.remoteSource("the file of \(image.uuid) from \(client.baseURL) broke off or is too long: \(error.message)")
        }
        try await checkContentMD5(response, staged, image, client)
        return staged
    }

    /// Like `stageFile`, but continues from the bytes an earlier attempt kept (with `Range`,
    /// when the upstream honours it) and keeps what arrives if the transfer breaks off.
    func stageResumably(_ image: UpstreamImage, from client: IMGAPIClient, progress: Progress?,
                        written: Progress? = nil) async throws -> StagedBlob {
        let key = (image.sha1 ?? "").lowercased()
        let kept = repository.blobs.keptBytes(key, upTo: image.size ?? BlobStore.maximumFileSize)
        if kept > 0, kept == image.size {
            // Every byte arrived before the last attempt stopped: adopt them (verified by the caller).
            return try await receiveResumably(image, key, from: kept, AsyncThrowingStream { $0.finish() }, client, written)
        }
        let response: IMGAPIClient.StreamedResponse, partial: Bool
        do {
            (response, partial) = try await client.downloadFile(image.uuid, from: kept)
        } catch let error as IMGAPIClientError where kept > 0 && !error.isTransient {
            // The upstream refuses to continue these bytes (416, another range): start over.
            repository.blobs.discardPartial(key)
            (response, partial) = try await download(image, from: client, offset: 0)
        } catch let error as IMGAPIClientError {
            throw IMGAPIError.remoteSource("\(error)")
        }
        let start = partial ? kept : 0
        let counted: Progress? = progress.map { report in { @Sendable bytes in report(start + bytes) } }
        let staged = try await receiveResumably(image, key, from: start,
                                                ProgressReportingBody(base: response.body, progress: counted), client, written)
        if !partial { try await checkContentMD5(response, staged, image, client) }
        return staged
    }

    private func receiveResumably(_ image: UpstreamImage, _ key: String, from start: Int64,
                                  _ body: some AsyncSequence<ByteBuffer, any Error>, _ client: IMGAPIClient,
                                  _ written: Progress?) async throws -> StagedBlob {
        do {
            return try await repository.blobs.receivePartial(key, from: start, body, maxSize: image.size ?? BlobStore.maximumFileSize,
                                                             written: written)
        } catch let error as IMGAPIError {
            throw IMGAPIError.download("the file of \(image.uuid) from \(client.baseURL): \(error.message)")
        } catch {
            throw IMGAPIError.remoteSource("the file of \(image.uuid) from \(client.baseURL) broke off: \(NetworkFailure.cause(error))")
        }
    }

    private func download(_ image: UpstreamImage, from client: IMGAPIClient,
                          offset: Int64) async throws -> (response: IMGAPIClient.StreamedResponse, partial: Bool) {
        do {
            return try await client.downloadFile(image.uuid, from: offset)
        } catch let error as IMGAPIClientError {
            throw IMGAPIError.remoteSource("\(error)")
        }
    }

    /// The whole file's `Content-MD5`, when the upstream sends one, must match what arrived.
    private func checkContentMD5(_ response: IMGAPIClient.StreamedResponse, _ staged: StagedBlob, _ image: UpstreamImage,
                                 _ client: IMGAPIClient) async throws {
        guard let md5 = response.headers.first(name: "Content-MD5"), md5 != staged.digests.contentMD5 else { return }
        await repository.blobs.discard(staged)
        throw IMGAPIError.download("the file of \(image.uuid) from \(client.baseURL) does not match its Content-MD5")
    }
}

/// A response body that reports how many bytes have passed.
struct ProgressReportingBody<Base: AsyncSequence & Sendable>: AsyncSequence, Sendable where Base.Element == ByteBuffer {
    typealias Element = ByteBuffer
    let base: Base
    let progress: RemoteImport.Progress?

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        let progress: RemoteImport.Progress?
        var total: Int64 = 0

        mutating func next() async throws -> ByteBuffer? {
            guard let chunk = try await base.next() else { return nil }
            total += Int64(chunk.readableBytes)
            progress?(total)
            return chunk
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: base.makeAsyncIterator(), progress: progress)
    }
}
