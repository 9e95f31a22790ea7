import AsyncHTTPClient
import Foundation
import IMGAPI
import IMGAPIClient
import NIOCore
import _NIOFileSystem

/// What to publish and where.
public struct PublishPlan: Sendable {
    public enum Source: Sendable {
        /// Snapshot (created unless `snapshot` names one) and send a dataset.
        case dataset(name: String, snapshot: String?, keepSnapshot: Bool)
        /// An existing compressed stream, and the manifest's `files[0]` when it has one: the
        /// file must have its `size` and `sha1`, and its `dataset_guid` is sent along.
        case file(path: String, described: JSONObject?)
    }

    public var source: Source
    /// The manifest to publish (uuid, name, version and every field given), without `files`.
    public var manifest: JSONObject
    public var compression: ImageCompression
    /// With `incremental`: send only what changed since the origin image's snapshot.
    public var incremental: Bool
    /// The origin image's snapshot on this host (default `<pool>/<origin uuid>@final`).
    public var originSnapshot: String?
    /// Write `NAME-VERSION.json` and the stream here instead of uploading.
    public var outputDirectory: String?
    /// The upload fails when no byte moves for this long; one that keeps moving has no deadline.
    public var stallTimeout: Duration

    public init(source: Source, manifest: JSONObject, compression: ImageCompression = .gzip, incremental: Bool = false,
                originSnapshot: String? = nil, outputDirectory: String? = nil, stallTimeout: Duration = .seconds(120)) {
        self.source = source
        self.manifest = manifest
        self.compression = compression
        self.incremental = incremental
        self.originSnapshot = originSnapshot
        self.outputDirectory = outputDirectory
        self.stallTimeout = stallTimeout
    }

    public var uuid: String { manifest["uuid"]?.stringValue ?? "" }
    public var origin: String? { manifest["origin"]?.stringValue }
}

/// Publishes an image in one streaming pass: AdminImportImage, AddImageFile with the
/// stream (`zfs send | compressor`, digested on the way), a check of what the server
/// stored against what was sent, then ActivateImage. A failure after the image was
/// created deletes it on the server; a snapshot this run made is destroyed.
public struct Publisher: Sendable {
    public let plan: PublishPlan
    /// The server; nil with `outputDirectory`.
    public let client: IMGAPIClient?
    public let progress: (@Sendable (Int64) -> Void)?

    public init(plan: PublishPlan, client: IMGAPIClient?, progress: (@Sendable (Int64) -> Void)? = nil) {
        self.plan = plan
        self.client = client
        self.progress = progress
    }

    /// The published (or, with `outputDirectory`, written) manifest.
    public func run() async throws -> JSONObject {
        if case .file(let path, let described) = plan.source { try await Self.verify(path, against: described) }
        if let client { try await check(client) }
        let stream: ByteStream
        var guid: String?
        var made: String?
        switch plan.source {
        case .dataset(let dataset, let snapshot, _):
            guard await ZFS.exists(dataset) else { throw PublishError(step: "dataset", "dataset \(dataset) does not exist") }
            let name = "\(dataset)@\(snapshot ?? "imgpublish-\(plan.uuid)")"
            if snapshot == nil {
                do { try await ZFS.snapshot(name) } catch { throw PublishError(step: "snapshot", "\(error)") }
                made = name
            } else if !(await ZFS.exists(name)) {
                throw PublishError(step: "snapshot", "snapshot \(name) does not exist")
            }
            do {
                do { guid = try await ZFS.guid(name) } catch {
                    throw PublishError(step: "snapshot", "zfs guid of \(name) failed: \(error)")
                }
                let origin = plan.incremental ? try await originSnapshot(for: dataset) : nil
                do {
                    stream = try SendPipeline.start(snapshot: name, incrementalFrom: origin, compression: plan.compression,
                                                    progress: progress)
                } catch {
                    throw PublishError(step: "send", "cannot start zfs send of \(name): \(error)")
                }
            } catch {
                await removeSnapshot(made)
                throw error
            }
        case .file(let path, let described):
            guid = described?["dataset_guid"]?.stringValue
            stream = try ByteStream.file(path, progress: progress)
        }
        do {
            let result: JSONObject
            if let directory = plan.outputDirectory {
                result = try await write(stream, to: directory, datasetGUID: guid)
            } else if let client {
                result = try await upload(stream, to: client, datasetGUID: guid)
            } else {
                throw PublishError(step: "upload", "no server to publish to (give a URL or an output directory)")
            }
            await removeSnapshot(made)
            return result
        } catch {
            await Self.regardless { await stream.terminate() }
            await removeSnapshot(made)
            throw error
        }
    }

    /// Destroys the snapshot this run made, unless asked to keep it.
    private func removeSnapshot(_ made: String?) async {
        guard let made, case .dataset(_, _, let keep) = plan.source, !keep else { return }
        await Self.regardless { try? await ZFS.destroy(made) }
    }

    /// Runs clean-up to its end even when the publish was cancelled (interrupted), where
    /// HTTP requests and waits for processes would stop at once.
    static func regardless(_ work: @escaping @Sendable () async -> Void) async {
        await Task { await work() }.value
    }

    /// `--file`: its size and sha1 must be the ones its manifest records, before anything is sent.
    static func verify(_ path: String, against described: JSONObject?) async throws {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
              let size = (attributes[.size] as? NSNumber)?.int64Value else { throw PublishError(step: "file", "cannot read \(path)") }
        guard let described else { return }
        if let expected = described["size"]?.intValue, Int64(expected) != size {
            throw PublishError(step: "verify", "\(path) has \(size) bytes, the manifest says \(expected)")
        }
        guard let expected = described["sha1"]?.stringValue else { return }
        let actual: String
        do { actual = try await FileSHA1.of(path) } catch { throw PublishError(step: "file", "cannot read \(path): \(error)") }
        guard actual == expected else { throw PublishError(step: "verify", "\(path) has sha1 \(actual), the manifest says \(expected)") }
    }

    /// Refuses early, before a snapshot is made: not an IMGAPI, writes not allowed, origin unknown there.
    func check(_ client: IMGAPIClient) async throws {
        do { _ = try await client.ping() } catch {
            throw Self.isAuthRefusal(error) ? authRefused(client, error) : PublishError(step: "ping", "\(error)")
        }
        do { try await client.checkWriteAccess(plan.uuid) } catch {
            throw Self.isAuthRefusal(error) ? authRefused(client, error) : PublishError(step: "auth", "\(error)")
        }
        guard let origin = plan.origin else { return }
        let image: JSONObject?
        do { image = try await client.image(origin) } catch { throw PublishError(step: "origin", "\(error)") }
        guard image != nil else { throw PublishError(step: "origin", "origin image \(origin) is unknown on \(client.baseURL)") }
    }

    /// A 401 or 403: the server will not take this client's writes.
    static func isAuthRefusal(_ error: Error) -> Bool {
        guard case IMGAPIClientError.server(let status, _, _) = error else { return false }
        return status == 401 || status == 403
    }

    func authRefused(_ client: IMGAPIClient, _ error: Error) -> PublishError {
        let who = client.signer.map { "user \($0.user) (is its public key added there?)" }
            ?? "unsigned requests (give --user and --key, or publish from a network the server trusts)"
        return PublishError(step: "auth", "auth refused by \(client.baseURL) for \(who): \(error)")
    }

    /// The origin's snapshot on this host, checked against the origin image's `dataset_guid`.
    func originSnapshot(for dataset: String) async throws -> String {
        guard let origin = plan.origin else { throw PublishError(step: "origin", "--incremental needs --origin") }
        let name = plan.originSnapshot ?? "\(ZFS.pool(of: dataset))/\(origin)@final"
        guard await ZFS.exists(name) else { throw PublishError(step: "origin", "origin snapshot \(name) does not exist") }
        let guid: String
        do { guid = try await ZFS.guid(name) } catch { throw PublishError(step: "origin", "zfs guid of \(name) failed: \(error)") }
        if let client, let expected = try? await client.image(origin)?["files"]?.arrayValue?.first?.objectValue?["dataset_guid"]?.stringValue,
           expected != guid {
            throw PublishError(step: "origin", "snapshot \(name) has guid \(guid), but origin image \(origin) was made from \(expected)")
        }
        return name
    }

    private func upload(_ stream: ByteStream, to client: IMGAPIClient, datasetGUID: String?) async throws -> JSONObject {
        var manifest = plan.manifest
        manifest["files"] = nil
        do { _ = try await client.importImage(manifest) } catch { throw PublishError(step: "import", "\(error)") }
        do {
            let added: JSONObject
            do {
                let (uuid, compression) = (plan.uuid, plan.compression.rawValue)
                added = try await Self.failingOnStall(of: stream, after: plan.stallTimeout, sendingTo: client.baseURL) {
                    try await client.addFile(uuid, compression: compression, datasetGUID: datasetGUID,
                                             body: .stream(stream, length: .unknown))
                }
            } catch let error as PublishError {
                throw error
            } catch {
                throw PublishError(step: "upload", "\(error)")
            }
            let sent = stream.digest.finalize()
            let stored = added["files"]?.arrayValue?.first?.objectValue
            guard stored?["sha1"]?.stringValue == sent.sha1, stored?["size"]?.intValue.map(Int64.init) == stream.digest.size else {
                throw PublishError(step: "verify", "the server stored sha1 \(stored?["sha1"]?.stringValue ?? "none"), size "
                                   + "\(stored?["size"]?.intValue.map(String.init) ?? "none"); sent sha1 \(sent.sha1), size \(stream.digest.size)")
            }
            do { return try await client.activate(plan.uuid) } catch { throw PublishError(step: "activate", "\(error)") }
        } catch {
            let uuid = plan.uuid
            await Self.regardless { try? await client.delete(uuid) }
            throw error
        }
    }

    /// Runs `upload` of `stream`, and fails it when no byte of the stream moves for `limit`
    /// before its end, saying which side stopped. The wait for the answer after the last
    /// byte is the HTTP client's (300 s without a byte).
    static func failingOnStall<T: Sendable>(of stream: ByteStream, after limit: Duration, sendingTo server: String,
                                            _ upload: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await upload() }
            group.addTask {
                while true {
                    try await Task.sleep(for: min(.seconds(1), limit / 4))
                    guard let side = stream.stalled(for: limit) else { continue }
                    let seconds = limit.components.seconds
                    switch side {
                    case .consumer:
                        throw PublishError(step: "upload", "the upload stalled: \(server) took no byte for \(seconds) seconds")
                    case .producer:
                        throw PublishError(step: "upload", "the upload stalled: the stream gave no byte for \(seconds) seconds (zfs send or the compressor is stuck)")
                    }
                }
            }
            defer { group.cancelAll() }
            guard let result = try await group.next(), let value = result else { throw CancellationError() }
            return value
        }
    }

    /// `--output`: the stream to `NAME-VERSION.<ext>` and the manifest, with `files[0]`
    /// filled, to `NAME-VERSION.json`: what `imgadm publish -m -f` and `imgadm install` take.
    private func write(_ stream: ByteStream, to directory: String, datasetGUID: String?) async throws -> JSONObject {
        let base = "\(plan.manifest["name"]?.stringValue ?? plan.uuid)-\(plan.manifest["version"]?.stringValue ?? "0")"
        let filePath = "\(directory)/\(base).\(plan.compression.fileExtension)"
        do {
            let options = OpenOptions.Write(existingFile: .truncate, newFile: .init(transactionalCreation: false))
            try await FileSystem.shared.withFileHandle(forWritingAt: FilePath(filePath), options: options) { handle in
                var writer = handle.bufferedWriter(capacity: .mebibytes(1))
                for try await chunk in stream { try await writer.write(contentsOf: chunk) }
                try await writer.flush()
                try await handle.synchronize()
            }
        } catch {
            try? FileManager.default.removeItem(atPath: filePath)
            if let error = error as? PublishError { throw error }
            throw PublishError(step: "output", "cannot write \(filePath): \(error)")
        }
        let sent = stream.digest.finalize()
        var file = JSONObject([("sha1", .string(sent.sha1)), ("size", .number(Double(stream.digest.size))),
                               ("compression", .string(plan.compression.rawValue))])
        if let datasetGUID { file["dataset_guid"] = .string(datasetGUID) }
        var manifest = plan.manifest
        manifest["files"] = .array([.object(file)])
        let manifestPath = "\(directory)/\(base).json"
        do { try Data(manifest.prettyPrinted().utf8).write(to: URL(fileURLWithPath: manifestPath)) } catch {
            try? FileManager.default.removeItem(atPath: filePath)
            throw PublishError(step: "output", "cannot write \(manifestPath): \(error)")
        }
        return manifest
    }
}
