import Foundation
import IMGAPI
import XCTest

/// `imgpublish` against a real imgapid, with real ZFS (zfs-fuse) on both ends.
final class PublishTests: XCTestCase {
    var server: ServerProcess!
    var client: TestClient!
    var pools: [ZFSPool] = []
    let baseUUID = "9b000000-0000-4000-8000-000000000001"
    let childUUID = "9b000000-0000-4000-8000-000000000002"

    override func setUp() async throws {
        server = try ServerProcess(["--trust-network", "127.0.0.1/32"])
        try server.start()
        client = TestClient(server)
    }

    override func tearDown() async throws {
        server.stop()
        pools.forEach { $0.destroy() }
    }

    func pool() throws -> ZFSPool {
        let pool = try ZFSPool()
        pools.append(pool)
        return pool
    }

    /// Runs imgpublish; returns its exit status and everything it printed.
    func imgpublish(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
        try ServerProcess.run(arguments, executable: ServerProcess.imgpublish, environment: environment)
    }

    /// Every snapshot on this host.
    func snapshots() throws -> String {
        try ZFSPool.shell("zfs list -H -o name -t snapshot")
    }

    func write(_ bytes: [UInt8], to url: URL) throws {
        try Data(bytes).write(to: url)
    }

    /// The file of `uuid` as served, decompressed with `decompress` and received into `dataset`.
    func receive(_ uuid: String, into dataset: String, decompress: String = "gzip -dc") async throws {
        let download = try await client.get("/images/\(uuid)/file")
        XCTAssertEqual(download.status, 200)
        let file = server.storage.appendingPathComponent("download-\(uuid)")
        try write(download.body, to: file)
        try ZFSPool.shell("\(decompress) '\(file.path)' | zfs receive \(dataset)")
    }

    func testFullAndIncrementalImagesRoundTripThroughZFS() async throws {
        let source = try pool(), target = try pool()
        let base = "\(source.name)/\(baseUUID)"
        try ZFSPool.shell("zfs create \(base)")
        try write(Fixture.bytes(300_000, seed: 1), to: source.path(base).appendingPathComponent("random.bin"))
        try "base\n".write(to: source.path(base).appendingPathComponent("release"), atomically: true, encoding: .utf8)
        try ZFSPool.shell("zfs snapshot \(base)@final")

        let published = try imgpublish([base, "--snapshot", "final", "--uuid", baseUUID, "--name", "base", "--version", "1",
                                         "--url", server.baseURL, "--json"])
        XCTAssertEqual(published.status, 0, published.output)
        let manifest = try XCTUnwrap(try JSONValue.parse(Array(published.output.utf8)).objectValue, published.output)
        XCTAssertEqual(manifest["state"], .string("active"))
        let guid = try ZFSPool.shell("zfs get -Hp -o value guid \(base)@final").trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(manifest["files"]?.arrayValue?.first?.objectValue?["dataset_guid"], .string(guid))

        // The child is built on a clone of the origin's @final, as on a SmartOS build host.
        let child = "\(source.name)/child"
        try ZFSPool.shell("zfs clone \(base)@final \(child)")
        try write(Fixture.bytes(100_000, seed: 2), to: source.path(child).appendingPathComponent("app.bin"))
        try "child\n".write(to: source.path(child).appendingPathComponent("release"), atomically: true, encoding: .utf8)
        let incremental = try imgpublish([child, "--origin", baseUUID, "--incremental", "--uuid", childUUID, "--name", "app",
                                          "--version", "2", "--url", server.baseURL, "-q"])
        XCTAssertEqual(incremental.status, 0, incremental.output)
        XCTAssertEqual(incremental.output, "", "-q prints nothing")
        let snapshots = try ZFSPool.shell("zfs list -H -o name -t snapshot")
        XCTAssertFalse(snapshots.contains("\(child)@imgpublish-"), "the snapshot it made is gone: \(snapshots)")
        let childImage = try await client.get("/images/\(childUUID)").object()
        XCTAssertEqual(childImage["origin"], .string(baseUUID))
        let childSize = childImage["files"]?.arrayValue?.first?.objectValue?["size"]?.intValue ?? 0
        let baseSize = manifest["files"]?.arrayValue?.first?.objectValue?["size"]?.intValue ?? 0
        XCTAssertLessThan(childSize, baseSize, "the incremental image holds only the difference")

        let received = "\(target.name)/received"
        try await receive(baseUUID, into: received)
        XCTAssertEqual(try Data(contentsOf: target.path(received).appendingPathComponent("random.bin")), Data(Fixture.bytes(300_000, seed: 1)))
        // As imgadm installs an incremental image: a new dataset, a clone of the origin's snapshot.
        let receivedChild = "\(target.name)/received-child"
        try await receive(childUUID, into: receivedChild)
        for name in ["random.bin", "app.bin", "release"] {
            XCTAssertEqual(try Data(contentsOf: target.path(receivedChild).appendingPathComponent(name)),
                           try Data(contentsOf: source.path(child).appendingPathComponent(name)), name)
        }
    }

    func testEveryCompressionRoundTrips() async throws {
        let source = try pool(), target = try pool()
        let dataset = "\(source.name)/data"
        try ZFSPool.shell("zfs create \(dataset)")
        try write(Fixture.bytes(200_000, seed: 5), to: source.path(dataset).appendingPathComponent("data.bin"))
        for (index, (compression, decompress)) in [("gzip", "gzip -dc"), ("xz", "xz -dc"), ("bzip2", "bzip2 -dc"), ("none", "cat")].enumerated() {
            let uuid = "9b000000-0000-4000-8000-00000000010\(index)"
            let result = try imgpublish([dataset, "--uuid", uuid, "--name", "c-\(compression)", "--version", "1",
                                         "--compression", compression, "--url", server.baseURL])
            XCTAssertEqual(result.status, 0, "\(compression): \(result.output)")
            let image = try await client.get("/images/\(uuid)").object()
            XCTAssertEqual(image["files"]?.arrayValue?.first?.objectValue?["compression"], .string(compression))
            let received = "\(target.name)/\(compression)"
            try await receive(uuid, into: received, decompress: decompress)
            XCTAssertEqual(try Data(contentsOf: target.path(received).appendingPathComponent("data.bin")), Data(Fixture.bytes(200_000, seed: 5)))
        }
    }

    func testOutputFilesPublishLaterAndAreVerifiedFirst() async throws {
        let source = try pool()
        let dataset = "\(source.name)/data"
        try ZFSPool.shell("zfs create \(dataset)")
        try write(Fixture.bytes(50_000, seed: 6), to: source.path(dataset).appendingPathComponent("data.bin"))
        let output = try ServerProcess.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: output) }
        let written = try imgpublish([dataset, "--uuid", baseUUID, "--name", "out", "--version", "3", "--output", output.path])
        XCTAssertEqual(written.status, 0, written.output)
        let manifestFile = output.appendingPathComponent("out-3.json")
        let streamFile = output.appendingPathComponent("out-3.zfs.gz")
        let manifest = try XCTUnwrap(try JSONValue.parse(Array(Data(contentsOf: manifestFile))).objectValue)
        let stream = Array(try Data(contentsOf: streamFile))
        let writtenFile = try XCTUnwrap(manifest["files"]?.arrayValue?.first?.objectValue)
        XCTAssertEqual(writtenFile["sha1"], .string(Fixture.sha1(stream)))
        XCTAssertNotNil(writtenFile["dataset_guid"]?.stringValue, "the snapshot's guid is recorded")
        expect(try await client.get("/images/\(baseUUID)"), status: 404)

        let published = try imgpublish(["--manifest", manifestFile.path, "--file", streamFile.path, "--url", server.baseURL])
        XCTAssertEqual(published.status, 0, published.output)
        let image = try await client.get("/images/\(baseUUID)").object()
        XCTAssertEqual(image["state"], .string("active"))
        for (key, value) in manifest where key != "files" { XCTAssertEqual(image[key], value, key) }
        let storedFile = image["files"]?.arrayValue?.first?.objectValue
        for key in ["sha1", "size", "compression", "dataset_guid"] { XCTAssertEqual(storedFile?[key], writtenFile[key], key) }

        // With the guid on the server, a child built on another snapshot is caught.
        let other = "\(source.name)/other"
        try ZFSPool.shell("zfs create \(other) && zfs snapshot \(other)@final")
        let wrongOrigin = try imgpublish([dataset, "--uuid", childUUID, "--name", "out", "--version", "4", "--origin", baseUUID,
                                          "--incremental", "--origin-snapshot", "\(other)@final", "--url", server.baseURL])
        XCTAssertEqual(wrongOrigin.status, 1)
        XCTAssertTrue(wrongOrigin.output.contains("but origin image \(baseUUID) was made from"), wrongOrigin.output)

        // A file that no longer matches its manifest is refused before anything is sent.
        try write(stream + [0], to: streamFile)
        let refused = try imgpublish(["--manifest", manifestFile.path, "--file", streamFile.path, "--url", server.baseURL,
                                      "--uuid", childUUID])
        XCTAssertEqual(refused.status, 1, refused.output)
        XCTAssertTrue(refused.output.contains("imgpublish: verify:") && refused.output.contains("bytes"), refused.output)
        expect(try await client.get("/images/\(childUUID)"), status: 404)
    }

    func testRefusesEarlyAndClearly() async throws {
        let source = try pool()
        let missing = try imgpublish(["\(source.name)/nope", "--name", "x", "--version", "1", "--url", server.baseURL])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.output.contains("dataset"), missing.output)

        let dataset = "\(source.name)/data"
        try ZFSPool.shell("zfs create \(dataset)")
        let unknownOrigin = try imgpublish([dataset, "--name", "x", "--version", "1", "--origin", baseUUID, "--incremental",
                                            "--url", server.baseURL])
        XCTAssertEqual(unknownOrigin.status, 1)
        XCTAssertTrue(unknownOrigin.output.contains("origin: origin image \(baseUUID) is unknown"), unknownOrigin.output)

        // The origin exists on the server, but this host's snapshot is another dataset's.
        try ZFSPool.shell("zfs snapshot \(dataset)@final")
        let published = try imgpublish([dataset, "--snapshot", "final", "--uuid", baseUUID, "--name", "b", "--version", "1",
                                        "--url", server.baseURL])
        XCTAssertEqual(published.status, 0, published.output)
        let other = "\(source.name)/other"
        try ZFSPool.shell("zfs create \(other) && zfs snapshot \(other)@final")
        let wrongGUID = try imgpublish([dataset, "--name", "x", "--version", "2", "--origin", baseUUID, "--incremental",
                                        "--origin-snapshot", "\(other)@final", "--url", server.baseURL])
        XCTAssertEqual(wrongGUID.status, 1)
        XCTAssertTrue(wrongGUID.output.contains("guid"), wrongGUID.output)
        let noSnapshot = try imgpublish([dataset, "--name", "x", "--version", "3", "--origin", baseUUID, "--incremental",
                                         "--url", server.baseURL])
        XCTAssertEqual(noSnapshot.status, 1)
        XCTAssertTrue(noSnapshot.output.contains("does not exist"), noSnapshot.output)

        let notIMGAPI = try ScriptedUpstream { _, _ in .json(status: 404, #"{"code": "NotFound", "message": "no"}"#) }
        defer { notIMGAPI.stop() }
        let ping = try imgpublish([dataset, "--name", "x", "--version", "4", "--url", notIMGAPI.baseURL])
        XCTAssertEqual(ping.status, 1)
        XCTAssertTrue(ping.output.contains("ping"), ping.output)

        let usage = try imgpublish(["--name", "x"])
        XCTAssertEqual(usage.status, 64, usage.output)
    }

    /// A key the server does not know, or no key from an untrusted network: refused before a
    /// snapshot is made (--keep-snapshot would keep one) and before anything is sent.
    func testAuthRefusalComesBeforeTheSnapshot() async throws {
        let source = try pool()
        let dataset = "\(source.name)/data"
        try ZFSPool.shell("zfs create \(dataset)")
        try write(Fixture.bytes(10_000, seed: 7), to: source.path(dataset).appendingPathComponent("data.bin"))
        let signed = try ServerProcess([])
        try signed.start()
        defer { signed.stop() }
        let admin = try signed.signedClient(user: "builder")
        let wrongKey = signed.storage.appendingPathComponent("wrong")
        try ZFSPool.shell("ssh-keygen -q -t ed25519 -N '' -f '\(wrongKey.path)'")

        for (label, signing) in [("wrong key", ["--user", "builder", "--key", wrongKey.path]), ("unsigned", [])] {
            let refused = try imgpublish([dataset, "--uuid", baseUUID, "--name", "x", "--version", "1", "--keep-snapshot",
                                          "--url", signed.baseURL] + signing)
            XCTAssertEqual(refused.status, 1, "\(label): \(refused.output)")
            XCTAssertTrue(refused.output.contains("imgpublish: auth: auth refused"), "\(label): \(refused.output)")
            XCTAssertFalse(try snapshots().contains("\(dataset)@"), "\(label): no snapshot made")
        }
        let listed = try await admin.get("/images?state=all")
        XCTAssertEqual(listed.text, "[]")
        XCTAssertEqual(signed.files(under: "uploads"), [])
        XCTAssertEqual(signed.files(under: "blobs"), [])
    }

    func testKeepSnapshotKeepsTheSnapshotItMade() async throws {
        let source = try pool()
        let dataset = "\(source.name)/data"
        try ZFSPool.shell("zfs create \(dataset)")
        try write(Fixture.bytes(20_000, seed: 8), to: source.path(dataset).appendingPathComponent("data.bin"))
        let kept = try imgpublish([dataset, "--uuid", baseUUID, "--name", "kept", "--version", "1", "--keep-snapshot",
                                   "--url", server.baseURL, "--json"])
        XCTAssertEqual(kept.status, 0, kept.output)
        let snapshot = "\(dataset)@imgpublish-\(baseUUID)"
        XCTAssertTrue(try snapshots().contains(snapshot), "the snapshot stays")
        let guid = try ZFSPool.shell("zfs get -Hp -o value guid \(snapshot)").trimmingCharacters(in: .whitespacesAndNewlines)
        let image = try await client.get("/images/\(baseUUID)").object()
        XCTAssertEqual(image["files"]?.arrayValue?.first?.objectValue?["dataset_guid"], .string(guid))
    }

    /// The server runs out of disk during the upload (a 3 MiB tmpfs, a 6 MiB stream): the
    /// publish fails naming the upload, the image it created is deleted, its snapshot destroyed.
    func testFailedUploadRemovesTheSnapshotAndTheImage() async throws {
        let source = try pool()
        let dataset = "\(source.name)/data"
        try ZFSPool.shell("zfs create \(dataset)")
        try write(Fixture.bytes(6 * 1024 * 1024, seed: 9), to: source.path(dataset).appendingPathComponent("data.bin"))
        let disk = try TmpfsMount(megabytes: 3)
        defer { disk.unmount() }
        let full = try ServerProcess(["--trust-network", "127.0.0.1/32"], storage: disk.path.appendingPathComponent("storage"))
        try full.start()
        defer { full.stop() }

        let failed = try imgpublish([dataset, "--uuid", baseUUID, "--name", "big", "--version", "1", "--url", full.baseURL])
        XCTAssertEqual(failed.status, 1, failed.output)
        XCTAssertTrue(failed.output.contains("imgpublish: upload:"), failed.output)
        XCTAssertFalse(try snapshots().contains("\(dataset)@"), "the snapshot it made is destroyed")
        expect(try await TestClient(full).get("/images/\(baseUUID)"), status: 404)
        XCTAssertEqual(full.files(under: "uploads"), [])
        XCTAssertEqual(full.files(under: "blobs"), [])
    }

    /// Ctrl-C (SIGINT) during the upload: imgpublish deletes the image it created, destroys
    /// its snapshot and exits 130, instead of dying with both left behind.
    func testInterruptedPublishLeavesNothing() async throws {
        let source = try pool()
        let dataset = "\(source.name)/data"
        try ZFSPool.shell("zfs create \(dataset)")
        // xz is slow on random bytes: the upload lasts long enough to be interrupted.
        try write(Fixture.bytes(24 * 1024 * 1024, seed: 12), to: source.path(dataset).appendingPathComponent("data.bin"))
        let (process, output) = try ChildProcess.withOutput(ServerProcess.imgpublish.path, [
            dataset, "--uuid", baseUUID, "--name", "stopped", "--version", "1", "--compression", "xz", "--url", server.baseURL,
        ])
        for _ in 0..<6000 where server.files(under: "uploads").isEmpty && process.isRunning {
            try await Task.sleep(for: .milliseconds(10))
        }
        XCTAssertTrue(process.isRunning, "still uploading when interrupted")
        process.signal(SIGINT)
        let said = String(decoding: output.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(process.wait(), 130, said)
        XCTAssertTrue(said.contains("imgpublish: interrupted"), said)
        XCTAssertFalse(try snapshots().contains("\(dataset)@"), "the snapshot it made is destroyed")
        expect(try await client.get("/images/\(baseUUID)"), status: 404)
        for _ in 0..<600 where !server.files(under: "uploads").isEmpty { try await Task.sleep(for: .milliseconds(50)) }
        XCTAssertEqual(server.files(under: "uploads"), [], "the server dropped the broken upload")
    }

    /// `zfs get guid` fails (a `zfs` on PATH that refuses `get`, all else the real one): exit 1
    /// naming the step, and the snapshot it made is destroyed.
    func testZFSFailureNamesTheStepAndRemovesTheSnapshot() async throws {
        let source = try pool()
        let dataset = "\(source.name)/data"
        try ZFSPool.shell("zfs create \(dataset)")
        let shim = try ServerProcess.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: shim) }
        let zfs = try ZFSPool.shell("command -v zfs").trimmingCharacters(in: .whitespacesAndNewlines)
        let script = shim.appendingPathComponent("zfs")
        try """
            #!/bin/sh
            if [ "$1" = get ]; then echo "injected: no guid" >&2; exit 1; fi
            exec \(zfs) "$@"

            """.write(to: script, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script.path)
        let path = shim.path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin")

        let failed = try imgpublish([dataset, "--uuid", baseUUID, "--name", "x", "--version", "1", "--url", server.baseURL],
                                    environment: ["PATH": path])
        XCTAssertEqual(failed.status, 1, failed.output)
        XCTAssertTrue(failed.output.contains("imgpublish: snapshot: zfs guid of \(dataset)@imgpublish-\(baseUUID) failed")
                      && failed.output.contains("injected: no guid"), failed.output)
        XCTAssertFalse(try snapshots().contains("\(dataset)@"), "the snapshot it made is destroyed")
        expect(try await client.get("/images/\(baseUUID)"), status: 404)
    }
}
