import Hummingbird
import IMGAPI
import IMGAPIClient
import ImageStore
import Mirror

extension Endpoints {
    /// The server named by `?source=`, where an import reads from.
    func sourceClient(_ call: Call) throws -> IMGAPIClient? {
        guard let source = call.query.value("source") else { return nil }
        do {
            return try IMGAPIClient(url: source, userAgent: configuration.serverName)
        } catch {
            throw IMGAPIError.invalidParameter(field: "source", message: "invalid \"source\": \(error)")
        }
    }

    /// AdminImportImage with `source`: the manifest is read from the source (the body is
    /// ignored) and stored unactivated; the file follows with `PUT …/file?source=`.
    func importFromSource(_ uuid: String, source: IMGAPIClient, channel: ChannelSelection, _ call: Call) async throws -> Response {
        guard try await repository.catalog.image(uuid) == nil else { throw IMGAPIError.imageUuidAlreadyExists(uuid) }
        let upstream = try await remoteImport.manifest(uuid, from: source)
        var record = try ImageDraft.forImport(uuid: uuid, body: .object(upstream.manifest), mode: mode)
        if let name = channel.name { record["channels"] = .array([.string(name)]) }
        return .json(view(try await repository.add(record), call), etag: true)
    }

    /// AddImageFile with `source`: the file is pulled from the source and must match the
    /// source manifest's sha1 and size; its compression and dataset_guid are the source's.
    func addImageFileFromSource(_ uuid: String, source: IMGAPIClient, _ call: Call) async throws -> Response {
        let upstream = try await remoteImport.manifest(uuid, from: source)
        if let reason = upstream.unusableReason, upstream.sha1 == nil || upstream.size == nil {
            throw IMGAPIError.remoteSource(reason)
        }
        let staged = try await remoteImport.stageFile(of: upstream, from: source)
        let stream: ImageFile.StreamCheck?
        do { stream = try await remoteImport.streamCheck(of: staged, for: upstream) } catch {
            await repository.blobs.discard(staged)
            throw error
        }
        let stored = try await repository.addFile(
            uuid, staged: staged, compression: upstream.compression ?? "none", datasetGUID: upstream.datasetGUID,
            expected: .init(sha1: upstream.sha1, size: upstream.size), stream: stream)
        return .json(view(stored, call), etag: true)
    }

    /// AdminImportRemoteImage: the origin chain is checked now; the missing images are then
    /// copied base first by a job inside this server, each appearing only with its verified
    /// file. Answers `{image_uuid, job_uuid}`; `GET /jobs/:uuid` follows the job.
    func importRemote(_ uuid: String, account: String?, channel: ChannelSelection, _ call: Call) async throws -> Response {
        guard let source = try sourceClient(call) else {
            throw IMGAPIError.validationFailed([.missing("source")], prefix: "missing \"source\"")
        }
        guard account == nil else { throw IMGAPIError.operatorOnly() }
        guard try await repository.catalog.image(uuid) == nil else { throw IMGAPIError.imageUuidAlreadyExists(uuid) }
        let image = try await remoteImport.manifest(uuid, from: source)
        if let reason = image.unusableReason { throw IMGAPIError.remoteSource(reason) }
        let chain = try await remoteImport.missingChain(of: image, from: source, requireActiveOrigins: true)
        let job = try await jobs.start(imageUUID: uuid, source: source.baseURL, total: chain.count)
        let remoteImport = self.remoteImport
        let jobs = self.jobs
        Task(executorPreference: CPUExecutor.shared) {
            do {
                for (index, upstream) in chain.enumerated() {
                    try await remoteImport.copy(upstream, from: source, keepOwner: false, channels: channel.name.map { [$0] }) { bytes in
                        Task { await jobs.received(job, image: index, bytes: bytes) }
                    }
                    await jobs.imageDone(job, bytes: upstream.size ?? 0)
                }
                await jobs.finish(job, error: nil)
                ServerLog.event("remote import done", [("job_uuid", .string(job)), ("image_uuid", .string(uuid))])
            } catch {
                let failure = error as? IMGAPIError ?? IMGAPIError.internalError(String(describing: error))
                await jobs.finish(job, error: failure)
                ServerLog.event("remote import failed", [("job_uuid", .string(job)), ("image_uuid", .string(uuid)),
                                                         ("error", .string(failure.message))])
            }
        }
        return .json(.object(JSONObject([("image_uuid", .string(uuid)), ("job_uuid", .string(job))])))
    }

    /// `GET /jobs/:uuid` (ours): state and progress of a remote import.
    func getJob(_ uuid: String) async throws -> Response {
        guard let job = await jobs.json(uuid) else { throw IMGAPIError.resourceNotFound("job \(uuid) not found") }
        return .json(job)
    }
}
