import IMGAPI
import IMGAPIClient
import ImageStore
import NIOCore

/// Copies images from another IMGAPI server into the local repository: each file is
/// streamed into the blob store and checked against the upstream manifest's sha1 and
/// size (and `Content-MD5` when sent) before the image appears, with its file, in one
/// catalog transaction. Used by remote import (`action=import-remote`) and `imgapid mirror`.
public struct RemoteImport: Sendable {
    public let repository: ImageRepository

    public init(repository: ImageRepository) {
        self.repository = repository
    }

    /// Called with the bytes received so far of the file being copied.
    public typealias Progress = @Sendable (_ bytes: Int64) -> Void

    /// The upstream manifest of `uuid`; any failure, a 404 included, is a `RemoteSourceError`.
    public func manifest(_ uuid: String, from client: IMGAPIClient) async throws -> UpstreamImage {
        do {
            guard let manifest = try await client.image(uuid) else {
                throw IMGAPIError.remoteSource("image \(uuid) not found on \(client.baseURL)")
            }
            return UpstreamImage(manifest)
        } catch let error as IMGAPIClientError {
            throw IMGAPIError.remoteSource("\(error)")
        }
    }

    /// What must be copied for `image` to be usable here: the origins missing locally, base
    /// first, then the image. The walk stops at an origin present here. With
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
            let upstream = try await manifest(origin, from: client)
            if requireActiveOrigins, upstream.state != ImageState.active.rawValue { throw Self.originIsNotActive(origin) }
            chain.append(upstream)
            next = upstream.origin
        }
        return chain.reversed()
    }

    static func originIsNotActive(_ uuid: String) -> IMGAPIError {
        IMGAPIError(status: 422, code: "OriginIsNotActive", message: "origin image \(uuid) is not active")
    }

    /// Copies one image whose origin (if any) is already here. `keepOwner` keeps the
    /// upstream owner (mirrors); otherwise the owner is the zero uuid, as AdminImportImage sets it.
    @discardableResult
    public func copy(_ image: UpstreamImage, from client: IMGAPIClient, keepOwner: Bool,
                     progress: Progress? = nil) async throws -> StoredImage {
        if let reason = image.unusableReason { throw IMGAPIError.remoteSource(reason) }
        var record = try ImageDraft.forImport(uuid: image.uuid, body: .object(image.manifest), mode: repository.mode)
        if keepOwner, let owner = image.manifest["owner"], owner.stringValue.map(ImageUUID.isValid) == true {
            record["owner"] = owner
        }
        record["activated"] = .bool(true)
        record["disabled"] = .bool(image.state == ImageState.disabled.rawValue)
        let staged = try await stageFile(of: image, from: client, progress: progress)
        return try await repository.addImported(
            record, staged: staged, compression: image.compression ?? "none", datasetGUID: image.datasetGUID,
            expected: .init(sha1: image.sha1, size: image.size))
    }

    /// Streams the upstream file of `image` into `uploads/`, digesting it; refuses a file
    /// longer than the manifest says or whose `Content-MD5` differs. The caller verifies
    /// sha1 and size when it adopts the staged file.
    public func stageFile(of image: UpstreamImage, from client: IMGAPIClient,
                          progress: Progress? = nil) async throws -> StagedBlob {
        let response: IMGAPIClient.StreamedResponse
        do {
            response = try await client.downloadFile(image.uuid).response
        } catch let error as IMGAPIClientError {
            throw IMGAPIError.remoteSource("\(error)")
        }
        let expectedSize = image.size ?? BlobStore.maximumFileSize
        let counted = ProgressReportingBody(base: response.body, progress: progress)
        let staged: StagedBlob
        do {
            staged = try await repository.blobs.receive(counted, maxSize: expectedSize)
        } catch let error as IMGAPIError where error.code == "Upload" {
            throw IMGAPIError.remoteSource("the file of \(image.uuid) from \(client.baseURL) broke off or is too long: \(error.message)")
        }
        if let md5 = response.headers.first(name: "Content-MD5"), md5 != staged.digests.contentMD5 {
            await repository.blobs.discard(staged)
            throw IMGAPIError.remoteSource("the file of \(image.uuid) from \(client.baseURL) does not match its Content-MD5")
        }
        return staged
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
