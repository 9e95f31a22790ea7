import IMGAPI
import XCTest

/// The publish and import paths as stock imgadm drives them, against the real server.
final class PublishFlowTests: XCTestCase {
    var server: ServerProcess!
    var client: TestClient!

    override func setUp() async throws {
        // imgadm publish cannot sign: the build network is trusted instead.
        server = try ServerProcess(["--trust-network", "127.0.0.1/32"])
        try server.start()
        client = TestClient(server)
    }

    override func tearDown() async throws {
        server.stop()
    }

    /// `imgadm publish -m M -f F URL`: import, PUT file (labelled JSON), activate; then what
    /// `imgadm avail` and `imgadm import` do: list, get, download and verify.
    func testImgadmPublishThenImport() async throws {
        let uuid = "8f1f3d2e-6c1b-4f4e-9a55-2b7c1d0e9a01"
        let file = Fixture.bytes(3 * 1024 * 1024 + 17)
        let sha1 = Fixture.sha1(file)
        let manifest = Fixture.manifest(uuid: uuid, extra: """
            "files": [{"sha1": "\(sha1)", "size": \(file.count), "compression": "gzip"}], "state": "active"
            """)

        let imported = try await client.postJSON("/images/\(uuid)?action=import", manifest)
        XCTAssertEqual(imported.status, 200, imported.text)
        XCTAssertEqual(try imported.object()["state"], .string("unactivated"))
        XCTAssertEqual(try imported.object()["files"], .array([]))

        let added = try await client.putFile(uuid, file, query: "compression=gzip&sha1=\(sha1)")
        XCTAssertEqual(added.status, 200, added.text)
        let addedFile = try XCTUnwrap(try added.object()["files"]?.arrayValue?.first?.objectValue)
        // imgadm rolls back unless the reply's sha1 and size equal the manifest's.
        XCTAssertEqual(addedFile["sha1"], .string(sha1))
        XCTAssertEqual(addedFile["size"], .number(Double(file.count)))
        XCTAssertEqual(addedFile["compression"], .string("gzip"))
        XCTAssertEqual(addedFile["digest"], .string("sha256:\(Fixture.sha256(file))"))

        let activated = try await client.postJSON("/images/\(uuid)?action=activate", "{}")
        XCTAssertEqual(activated.status, 200, activated.text)
        let published = try activated.object()
        XCTAssertEqual(published["state"], .string("active"))
        let publishedAt = try XCTUnwrap(published["published_at"]?.stringValue)
        XCTAssertTrue(Timestamp.isPublishedAt(publishedAt) && publishedAt.count == 24, "milliseconds expected: \(publishedAt)")

        // imgadm avail: GET /images with no parameters, Accept-Version ~2.
        let list = try await client.get("/images", headers: [("Accept-Version", "~2")])
        XCTAssertEqual(list.status, 200)
        XCTAssertEqual(list.header("Content-Type"), "application/json")
        let listed = try XCTUnwrap(try list.json().arrayValue)
        XCTAssertEqual(listed.compactMap { $0.objectValue?["uuid"]?.stringValue }, [uuid])

        // imgadm import: GetImage, then the file; size, sha1 and Content-Length checked.
        let got = try await client.get("/images/\(uuid)")
        XCTAssertEqual(got.status, 200)
        XCTAssertEqual(try got.object(), try listed[0].objectValue.unwrap())
        XCTAssertEqual(got.header("ETag"), Fixture.sha1(got.body), "ETag is the SHA-1 of the JSON body")

        let download = try await client.get("/images/\(uuid)/file")
        XCTAssertEqual(download.status, 200)
        XCTAssertEqual(download.body, file)
        XCTAssertEqual(download.header("Content-Length"), String(file.count))
        XCTAssertEqual(download.header("Content-Type"), "application/octet-stream")
        XCTAssertEqual(download.header("ETag"), sha1)
        XCTAssertEqual(download.header("Content-MD5"), Fixture.md5Base64(file))
        XCTAssertNotNil(download.header("Last-Modified").flatMap { HTTPDateParse.milliseconds($0) })
    }

    /// The three real manifests import through AdminImportImage and read back unchanged
    /// (apart from what an import resets: state and files, until a file is added and activated).
    func testRealManifestsImportAndReadBackUnchanged() async throws {
        for name in Fixture.manifestNames {
            let text = try Fixture.manifest(name)
            let original = try XCTUnwrap(try JSONValue.parse(text).objectValue)
            let uuid = try XCTUnwrap(original["uuid"]?.stringValue)
            let imported = try await client.postJSON("/images/\(uuid)?action=import", text)
            XCTAssertEqual(imported.status, 200, "\(name): \(imported.text)")

            var expected = original
            expected["state"] = .string("unactivated")
            expected["files"] = .array([])
            let readBack = try await client.get("/images/\(uuid)").object()
            XCTAssertEqual(readBack, expected, name)

            // With a file and activation, every field is the published one again but the file's own facts.
            let file = Fixture.bytes(4096, seed: UInt64(name.count))
            let added = try await client.putFile(uuid, file, query: "compression=gzip&sha1=\(Fixture.sha1(file))")
            XCTAssertEqual(added.status, 200, added.text)
            expect(try await client.postJSON("/images/\(uuid)?action=activate", "{}"), status: 200)
            expected["state"] = .string("active")
            expected["files"] = .array([.object(JSONObject([
                ("sha1", .string(Fixture.sha1(file))), ("size", .number(4096)), ("compression", .string("gzip")),
            ]))])
            var served = try await client.get("/images/\(uuid)").object()
            served["files"] = served["files"].map { Self.withoutDigest($0) }
            XCTAssertEqual(served, expected, "\(name): published_at and every other field kept")
        }
    }

    /// `files[0].digest` is our addition (sha256 of the file); fixtures predate it.
    static func withoutDigest(_ files: JSONValue) -> JSONValue {
        .array((files.arrayValue ?? []).map { file in
            guard var o = file.objectValue else { return file }
            o["digest"] = nil
            return .object(o)
        })
    }

    /// An incremental image names its origin; the chain must exist and stays consistent.
    func testOriginChain() async throws {
        let base = "11111111-1111-4111-8111-111111111111"
        let child = "22222222-2222-4222-8222-222222222222"
        let grandchild = "33333333-3333-4333-8333-333333333333"
        let missing = "44444444-4444-4444-8444-444444444444"

        let orphan = try await client.postJSON("/images/\(child)?action=import",
                                               Fixture.manifest(uuid: child, extra: "\"origin\": \"\(missing)\""))
        XCTAssertEqual(orphan.status, 422)
        XCTAssertEqual(orphan.errorCode, "OriginDoesNotExist")
        expect(try await client.get("/images/\(child)"), status: 404)

        for (uuid, origin) in [(base, nil), (child, base), (grandchild, child)] as [(String, String?)] {
            let extra = origin.map { "\"origin\": \"\($0)\"" } ?? ""
            expect(try await client.postJSON("/images/\(uuid)?action=import", Fixture.manifest(uuid: uuid, extra: extra)), status: 200)
            let file = Fixture.bytes(1000, seed: UInt64(uuid.hashValue & 0xFFFF))
            expect(try await client.putFile(uuid, file, query: "compression=none"), status: 200)
            expect(try await client.postJSON("/images/\(uuid)?action=activate", "{}"), status: 200)
        }
        let grandchildImage = try await client.get("/images/\(grandchild)").object()
        XCTAssertEqual(grandchildImage["origin"], .string(child))

        // imgadm walks the chain with GetImage; a base with dependents cannot be deleted.
        let refused = try await client.request(.DELETE, "/images/\(base)")
        XCTAssertEqual(refused.status, 422)
        XCTAssertEqual(refused.errorCode, "ImageHasDependentImages")
        expect(try await client.get("/images/\(base)"), status: 200)

        for uuid in [grandchild, child, base] {
            expect(try await client.request(.DELETE, "/images/\(uuid)"), status: 204)
        }
        XCTAssertEqual(server.files(under: "blobs"), [], "all files released once no image uses them")
    }

    /// Identical bytes are stored once and stay until the last image using them is deleted.
    func testSameFileStoredOnceAndReleasedWithLastImage() async throws {
        let file = Fixture.bytes(50_000, seed: 7)
        let uuids = ["aaaaaaaa-0000-4000-8000-000000000001", "aaaaaaaa-0000-4000-8000-000000000002"]
        for uuid in uuids {
            expect(try await client.postJSON("/images/\(uuid)?action=import", Fixture.manifest(uuid: uuid)), status: 200)
            expect(try await client.putFile(uuid, file, query: "compression=gzip"), status: 200)
        }
        XCTAssertEqual(server.files(under: "blobs").count, 1)
        expect(try await client.request(.DELETE, "/images/\(uuids[0])"), status: 204)
        XCTAssertEqual(server.files(under: "blobs").count, 1, "still used by the second image")
        let remaining = try await client.get("/images/\(uuids[1])/file")
        XCTAssertEqual(remaining.body, file)
        expect(try await client.request(.DELETE, "/images/\(uuids[1])"), status: 204)
        XCTAssertEqual(server.files(under: "blobs"), [])
        XCTAssertEqual(server.files(under: "uploads"), [])
    }

    /// Replacing the file of an unactivated image releases the old one.
    func testReplacingFileReleasesPreviousBlob() async throws {
        let uuid = "bbbbbbbb-0000-4000-8000-000000000001"
        expect(try await client.postJSON("/images/\(uuid)?action=import", Fixture.manifest(uuid: uuid)), status: 200)
        expect(try await client.putFile(uuid, Fixture.bytes(1000, seed: 1), query: "compression=gzip"), status: 200)
        let second = Fixture.bytes(1000, seed: 2)
        let replaced = try await client.putFile(uuid, second, query: "compression=xz&dataset_guid=1234567890")
        XCTAssertEqual(replaced.status, 200)
        let file = try XCTUnwrap(try replaced.object()["files"]?.arrayValue?.first?.objectValue)
        XCTAssertEqual(file["sha1"], .string(Fixture.sha1(second)))
        XCTAssertEqual(file["compression"], .string("xz"))
        XCTAssertEqual(file["dataset_guid"], .string("1234567890"))
        XCTAssertEqual(server.files(under: "blobs").count, 1)
    }

    /// Downloads: HEAD, single ranges, 416, conditionals, and unactivated images' files.
    func testFileDownloadHeadersRangesAndConditionals() async throws {
        let uuid = "cccccccc-0000-4000-8000-000000000001"
        let file = Fixture.bytes(10_000, seed: 3)
        let sha1 = Fixture.sha1(file)
        expect(try await client.postJSON("/images/\(uuid)?action=import", Fixture.manifest(uuid: uuid)), status: 200)
        let noFile = try await client.get("/images/\(uuid)/file")
        XCTAssertEqual(noFile.status, 404)
        XCTAssertEqual(try noFile.object()["message"], .string("image \"\(uuid)\" has no file"))
        // A right sha256 is accepted as a right sha1 is (a wrong one: BadInputTests).
        expect(try await client.putFile(uuid, file, query: "compression=none&sha1=\(sha1)&sha256=\(Fixture.sha256(file))"), status: 200)

        let head = try await client.request(.HEAD, "/images/\(uuid)/file")
        XCTAssertEqual(head.status, 200)
        XCTAssertEqual(head.header("Content-Length"), "10000")
        XCTAssertEqual(head.header("ETag"), sha1)
        XCTAssertEqual(head.body, [])

        let middle = try await client.get("/images/\(uuid)/file", headers: [("Range", "bytes=100-199")])
        XCTAssertEqual(middle.status, 206)
        XCTAssertEqual(middle.body, Array(file[100..<200]))
        XCTAssertEqual(middle.header("Content-Range"), "bytes 100-199/10000")
        let tail = try await client.get("/images/\(uuid)/file", headers: [("Range", "bytes=9990-")])
        XCTAssertEqual(tail.body, Array(file[9990...]))
        let suffix = try await client.get("/images/\(uuid)/file", headers: [("Range", "bytes=-5")])
        XCTAssertEqual(suffix.body, Array(file[9995...]))
        let beyond = try await client.get("/images/\(uuid)/file", headers: [("Range", "bytes=20000-")])
        XCTAssertEqual(beyond.status, 416)
        XCTAssertEqual(beyond.header("Content-Range"), "bytes */10000")
        let stale = try await client.get("/images/\(uuid)/file", headers: [("Range", "bytes=0-9"), ("If-Range", "\"other\"")])
        XCTAssertEqual(stale.status, 200, "If-Range that no longer matches gets the whole file")
        XCTAssertEqual(stale.body.count, 10_000)

        let cached = try await client.get("/images/\(uuid)/file", headers: [("If-None-Match", "\"\(sha1)\"")])
        XCTAssertEqual(cached.status, 304)
        XCTAssertEqual(cached.body, [])
        let lastModified = try XCTUnwrap(head.header("Last-Modified"))
        expect(try await client.get("/images/\(uuid)/file", headers: [("If-Modified-Since", lastModified)]), status: 304)
        expect(try await client.get("/images/\(uuid)/file", headers: [("If-Modified-Since", "Sat, 01 Jan 2000 00:00:00 GMT")]), status: 200)

        // GetImage conditionals against the manifest ETag.
        let image = try await client.get("/images/\(uuid)")
        let etag = try XCTUnwrap(image.header("ETag"))
        expect(try await client.get("/images/\(uuid)", headers: [("If-None-Match", etag)]), status: 304)
        expect(try await client.get("/images/\(uuid)", headers: [("If-Match", "nope")]), status: 412)
        let wrongMatch = try await client.request(.POST, "/images/\(uuid)?action=activate", headers: [("If-Match", "nope")])
        XCTAssertEqual(wrongMatch.status, 412)
        let unchanged = try await client.get("/images/\(uuid)").object()
        XCTAssertEqual(unchanged["state"], .string("unactivated"))
    }
}

extension Optional {
    func unwrap(file: StaticString = #filePath, line: UInt = #line) throws -> Wrapped {
        try XCTUnwrap(self, file: file, line: line)
    }
}

/// Parses an IMF-fixdate the way a client would, to check `Last-Modified` is well formed.
enum HTTPDateParse {
    static func milliseconds(_ text: String) -> Int64? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return formatter.date(from: text).map { Int64($0.timeIntervalSince1970 * 1000) }
    }
}
