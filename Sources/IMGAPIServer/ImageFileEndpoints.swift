import AsyncHTTPClient
import HTTPTypes
import Hummingbird
import IMGAPI
import ImageStore
import NIOCore
import NIOFileSystem
import ServiceLifecycle

extension Endpoints {
    /// `GET|HEAD /images/:uuid/file` (GetImageFile): streamed from the verified blob, with
    /// `Content-Length`, `Content-MD5`, `ETag` (sha1), `Last-Modified`, single `Range` and conditionals.
    func getImageFile(_ uuid: String, _ call: Call) async throws -> Response {
        let account = try account(call), channel = try channel(call, forRead: true)
        let image: StoredImage
        do {
            image = try await visibleImage(uuid, account: account, channel: channel)
        } catch let error as IMGAPIError where error.status == 404 && pullThrough != nil {
            return try await upstreamImageFile(uuid, notHere: error, account: account, channel: channel, call)
        }
        if pullThrough?.use(uuid) == true { metrics.cacheHits.increment() }
        let index = call.query.value("index").flatMap(Int.init) ?? 0
        let files = image.files
        guard files.indices.contains(index) else {
            throw IMGAPIError.resourceNotFound(index == 0 ? "image \"\(uuid)\" has no file" : "image \"\(uuid)\" has no file at index \(index)")
        }
        let file = files[index]
        let status: HTTPResponse.Status, bytes: Range<Int64>, response: HTTPFields
        switch try fileResponseHead(call.request.headers, etag: file.sha1, size: file.size, lastModified: file.mtime,
                                    contentMD5: file.contentMD5) {
        case .answered(let answer): return answer
        case .send(let s, let r, let f): (status, bytes, response) = (s, r, f)
        }
        let verifies = status == .ok && settings.configuration.verifyOnSend
        guard case .local(let handle, let identity) = try await openStoredFile(file, of: uuid) else {
            // Not in this replica's cache: passed through from the shared store (which a
            // background fetch copies it from, verified, for the next request).
            guard call.request.method != .head, let shared = repository.blobs.shared else { return Response(status: status, headers: response) }
            let body = ResponseBody(contentLength: Int(bytes.count)) { writer in
                try await withTaskExecutorPreference(verifies ? CPUExecutor.shared : nil) {
                    // Gone since it was asked for (the image deleted meanwhile): cut short below.
                    let object = try await shared.read(file.sha256, range: status == .ok ? nil : bytes)
                    try await Self.send(object ?? HTTPClientResponse.Body(), count: Int64(bytes.count), verifying: verifies ? file.sha256 : nil,
                                        to: &writer, uuid: uuid) {
                        let problem = "the object store's copy of the file of image \(uuid) is not the file published (its SHA-256 is not \(file.sha256)): restore it there, or publish the image again"
                        ServerLog.event("shared file damaged", [("level", .string("error")), ("image_uuid", .string(uuid)),
                                                                 ("sha256", .string(file.sha256))])
                        throw IMGAPIError.internalError(problem)
                    }
                    try await writer.finish(nil)
                }
            }
            return Response(status: status, headers: response, body: body)
        }
        if call.request.method == .head {
            await handle.closeEvenIfCancelled()
            return Response(status: status, headers: response)
        }
        let path = repository.blobs.path(forSHA256: file.sha256)
        let body = ResponseBody(contentLength: Int(bytes.count)) { writer in
            // Digesting while sending keeps a core busy: off the event loops then.
            try await withTaskExecutorPreference(verifies ? CPUExecutor.shared : nil) {
                do {
                    try await Self.send(FileSlices(handle, in: bytes, length: Self.sendSlice), count: Int64(bytes.count),
                                        verifying: verifies ? file.sha256 : nil, to: &writer, uuid: uuid) {
                        let problem = "its SHA-256 is no longer \(file.sha256)"
                        try await quarantine(file, of: uuid, path: path, problem, ifStill: identity)
                        throw Self.storedFileBroken(uuid, path: path, "the stored file of image \(uuid) failed verification: \(problem)")
                    }
                } catch {
                    await handle.closeEvenIfCancelled()
                    throw error
                }
                await handle.closeEvenIfCancelled()
                try await writer.finish(nil)
            }
        }
        return Response(status: status, headers: response, body: body)
    }

    /// Bytes read and written at a time by a download: 1 MiB cost 9–23% less CPU than 256 KiB
    /// per verified send (256 MiB, 1 and 16 clients), with one slice held per connection.
    static let sendSlice = ByteCount.mebibytes(1)

    /// Writes `count` bytes of a file from `chunks`. With `sha256`, a whole file is hashed as
    /// it goes and its last chunk waits for the digest: bytes that are not the file published
    /// never make a complete transfer (`mismatch` says why, and throws). A file cut short
    /// throws too, which closes the connection: the client sees a failed transfer instead of
    /// waiting for bytes that never come.
    private static func send(_ chunks: some AsyncSequence<ByteBuffer, any Error>, count: Int64, verifying sha256: String?,
                             to writer: inout any ResponseBodyWriter, uuid: String,
                             mismatch: () async throws -> Never) async throws {
        var sent: Int64 = 0
        var verifier = sha256.map(BlobVerifier.init(sha256:))
        for try await chunk in chunks {
            sent += Int64(chunk.readableBytes)
            verifier?.update(chunk)
            if sent == count, let verifier, !verifier.matches() { try await mismatch() }
            try await writer.write(chunk)
        }
        guard sent == count else { throw StoredFileChanged(uuid: uuid, sent: sent, expected: count) }
    }

    /// What a file request gets besides the bytes.
    enum FileResponseHead {
        /// Not modified, or a range that cannot be satisfied: this, without a body.
        case answered(Response)
        /// `range` of the file, with `status` (200 or 206) and these headers.
        case send(HTTPResponse.Status, range: Range<Int64>, fields: HTTPFields)
    }

    /// The headers, status and range of a file download: `ETag` (the sha1), `Last-Modified`
    /// (when known), conditionals, a single `Range`, and `Content-MD5` (when known) with the whole file.
    func fileResponseHead(_ headers: HTTPFields, etag: String, size: Int64, lastModified: Int64?,
                          contentMD5: String?) throws -> FileResponseHead {
        var response = HTTPFields()
        response[.contentType] = "application/octet-stream"
        response[.eTag] = etag
        if let lastModified { response[.lastModified] = HTTPDate.format(milliseconds: lastModified) }
        response[.acceptRanges] = "bytes"
        if try ConditionalRequest.evaluate(headers, etag: etag, lastModified: lastModified) == .notModified {
            return .answered(Response(status: .notModified, headers: response))
        }
        var range = 0..<size
        var status = HTTPResponse.Status.ok
        if ConditionalRequest.rangeStillValid(headers, etag: etag, lastModified: lastModified) {
            switch ByteRange(header: headers[.range], size: size) {
            case .whole: break
            case .partial(let r):
                range = r
                status = .partialContent
                response[.contentRange] = "bytes \(r.lowerBound)-\(r.upperBound - 1)/\(size)"
            case .unsatisfiable:
                response[.contentRange] = "bytes */\(size)"
                var refusal = Response.error(IMGAPIError(status: 416, code: "RequestedRangeNotSatisfiable",
                                                         message: "range not satisfiable for a file of \(size) bytes"))
                response[.contentType] = nil  // the refusal is JSON
                refusal.headers.append(contentsOf: response)
                return .answered(refusal)
            }
        }
        // Content-MD5 describes the whole file, so it goes only with the whole file.
        if status == .ok { response[.contentMD5] = contentMD5 }
        response[.contentLength] = String(range.count)
        return .send(status, range: range, fields: response)
    }

    /// Where a file is sent from.
    private enum StoredFileSource {
        /// This replica's verified copy, opened (and which file it is, for quarantine).
        case local(ReadFileHandle, BlobStore.FileIdentity?)
        /// The shared store's copy: this replica has none.
        case shared
    }

    /// The blob of `file`, opened after checking that it is still the size the catalog
    /// recorded, or the shared store's copy when this replica has none: a quarantined,
    /// missing or resized file is refused (503) before any header is sent, and a newly found
    /// one quarantined.
    private func openStoredFile(_ file: ImageFile, of uuid: String) async throws -> StoredFileSource {
        let path = repository.blobs.path(forSHA256: file.sha256)
        let handle: ReadFileHandle
        do {
            handle = try await FileSystem.shared.openFile(forReadingAt: FilePath(path))
        } catch {
            if try await repository.sharedCopyAvailable(file) {
                repository.fillFromShared(file)
                return .shared
            }
            // A quarantined file is no longer in blobs/: only a failed open needs to ask why.
            if let problem = try await repository.catalog.quarantineProblem(file.sha256) {
                throw ImageRepository.quarantinedFile(of: uuid, problem: problem)
            }
            try await quarantine(file, of: uuid, path: path, "the stored file is missing", ifStill: nil)
            throw ImageRepository.quarantinedFile(of: uuid, problem: "the stored file is missing")
        }
        let info = try? await handle.info()
        let identity = info.flatMap(BlobStore.FileIdentity.init)
        guard let size = info?.size, size == file.size else {
            await handle.closeEvenIfCancelled()
            let problem = "the stored file is \(info.map { "\($0.size) bytes" } ?? "unreadable") but should be \(file.size) bytes"
            try await quarantine(file, of: uuid, path: path, problem, ifStill: identity)
            throw ImageRepository.quarantinedFile(of: uuid, problem: problem)
        }
        return .local(handle, identity)
    }

    /// Quarantines the stored file and logs it at error level, with the path (clients are not told it).
    private func quarantine(_ file: ImageFile, of uuid: String, path: String, _ problem: String,
                            ifStill identity: BlobStore.FileIdentity?) async throws {
        guard try await repository.quarantine(file.sha256, problem: problem, ifStill: identity) else { return }
        ServerLog.event("stored file quarantined", [
            ("level", .string("error")), ("image_uuid", .string(uuid)), ("sha256", .string(file.sha256)),
            ("path", .string(path)), ("problem", .string(problem)),
        ])
    }

    /// 500 for a file whose bytes changed while being sent (the client sees a broken transfer).
    private static func storedFileBroken(_ uuid: String, path: String, _ problem: String) -> IMGAPIError {
        IMGAPIError.internalError(problem + ": the file is quarantined; publish the image again or run `imgapid scrub --repair-from URL`")
    }

    /// `PUT /images/:uuid/file` (AddImageFile): the body is streamed to disk and digested in one
    /// pass, never parsed (stock imgadm labels it `application/json`). Size and checksums are
    /// verified before the file enters the store; nothing changes when they do not match.
    /// With `source=URL` the file is pulled from that IMGAPI server instead. Counted in the
    /// `imgapi_publishes_total` metric once authorized.
    func addImageFile(_ uuid: String, _ call: Call) async throws -> Response {
        try authenticator.authorizeWrite(call)
        do {
            let response = try await receiveImageFile(uuid, call)
            metrics.published(true)
            return response
        } catch {
            metrics.published(false)
            throw error
        }
    }

    private func receiveImageFile(_ uuid: String, _ call: Call) async throws -> Response {
        if let source = try sourceClient(call) {
            _ = try await visibleImage(uuid, account: try account(call), channel: try channel(call, forRead: false), mustOwn: true)
            try await repository.checkFileAcceptable(uuid)
            return try await addImageFileFromSource(uuid, source: source, call)
        }
        let compression = try Self.compression(call.query.value("compression"))
        let sha1 = try Self.hexParameter(call.query.value("sha1"), field: "sha1", length: 40)
        var sha256 = try Self.hexParameter(call.query.value("sha256"), field: "sha256", length: 64)
        if let promised = try RequestDigest.sha256(call.request) {
            guard sha256 == nil || sha256 == promised else {
                throw IMGAPIError.badRequest("the Digest header and the sha256 parameter name different files")
            }
            sha256 = promised
        }
        let datasetGUID = call.query.value("dataset_guid")
        if let datasetGUID, datasetGUID.isEmpty || datasetGUID.utf8.count > 128 {
            throw IMGAPIError.invalidParameter(field: "dataset_guid")
        }
        if let storage = call.query.value("storage"), storage != "local" {
            throw IMGAPIError.invalidParameter(field: "storage", message: "invalid \"storage\": only \"local\" is available")
        }
        let account = try account(call)
        var declaredSize: Int64?
        if let text = call.request.headers[.contentLength] {
            guard let size = Int64(text), size >= 0 else { throw IMGAPIError.badRequest("invalid Content-Length") }
            guard size <= BlobStore.maximumFileSize else {
                throw IMGAPIError.upload("image file size, \(size), exceeds the maximum, \(BlobStore.maximumFileSize)")
            }
            declaredSize = size
        }
        let image = try await visibleImage(uuid, account: account, channel: try channel(call, forRead: false), mustOwn: true)
        try await repository.checkFileAcceptable(uuid)
        let body = CheckedBody(base: call.request.body, validator: try streamValidator(for: image, compression: compression))
        let staged = try await receiveDiscardedOnStop(body, expectedSize: declaredSize)
        if let facts = body.facts {
            do { try await checkLineage(facts, of: image, datasetGUID: datasetGUID) } catch {
                await repository.blobs.discard(staged)
                throw error
            }
        }
        let stored = try await repository.addFile(
            uuid, staged: staged, compression: compression.rawValue, datasetGUID: datasetGUID,
            expected: .init(sha1: sha1, sha256: sha256, size: declaredSize), stream: streamCheck(for: image, facts: body.facts))
        return .json(view(stored, call), etag: true)
    }

    /// Stages an upload unless the server is told to stop first (SIGTERM, SIGINT): then the
    /// bytes so far are discarded and the client told so, rather than the stop waiting for
    /// a client that may never finish.
    private func receiveDiscardedOnStop(_ body: CheckedBody<RequestBody>, expectedSize: Int64?) async throws -> StagedBlob {
        do {
            return try await cancelWhenGracefulShutdown { [blobs = repository.blobs] in
                try await blobs.receive(body, expectedSize: expectedSize)
            }
        } catch is CancellationError {
            throw IMGAPIError.serviceUnavailable("the server is stopping: the upload was discarded")
        }
    }

    static func compression(_ value: String?) throws -> ImageCompression {
        guard let value else {
            throw IMGAPIError.invalidParameter(field: "compression", code: "Missing", message: "missing \"compression\"")
        }
        guard let compression = ImageCompression(rawValue: value) else {
            throw IMGAPIError.invalidParameter(
                field: "compression",
                message: "invalid \"compression\" \"\(value)\": stock imgadm handles only \(ImageCompression.allowedValues)")
        }
        return compression
    }

    static func hexParameter(_ value: String?, field: String, length: Int) throws -> String? {
        guard let value else { return nil }
        let isHex = value.utf8.count == length && value.utf8.allSatisfy {
            ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "f"))
                || ($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "F"))
        }
        guard isHex else {
            throw IMGAPIError.invalidParameter(field: field, message: "invalid \"\(field)\": not a \(length)-digit hex digest")
        }
        return value.lowercased()
    }
}

/// The stored file ended before the bytes promised in the response head were sent.
struct StoredFileChanged: Error, CustomStringConvertible {
    let uuid: String
    let sent: Int64
    let expected: Int64
    var description: String { "the stored file of image \(uuid) ended after \(sent) of \(expected) bytes" }
}
