import Foundation
import IMGAPI
import XCTest

/// ListImages filters, order and paging parameters (spec §1.2) on a small known catalog.
final class ListImagesFilterTests: XCTestCase {
    var server: ServerProcess!
    /// Signed in: sees every state.
    var admin: TestClient!
    /// Not signed in: active images only.
    var anonymous: TestClient!

    /// The catalog, oldest first: name → uuid.
    static let smartos = "11111111-0000-4000-8000-000000000001"
    static let smartosLTS = "11111111-0000-4000-8000-000000000002"
    static let ubuntu = "11111111-0000-4000-8000-000000000003"
    static let centosDisabled = "11111111-0000-4000-8000-000000000004"
    static let docker = "11111111-0000-4000-8000-000000000005"
    static let pending = "11111111-0000-4000-8000-000000000006"

    override func setUp() async throws {
        server = try ServerProcess()
        try server.start()
        admin = try server.signedClient()
        anonymous = TestClient(server)

        try await admin.publish(Self.smartos, name: "base-64", version: "20.1.0", extra: """
            "published_at": "2020-01-01T00:00:00Z", "billing_tags": ["a", "b"],
            "tags": {"role": "os", "num": 42, "ok": true, "obj": {"x": 1}}
            """)
        try await admin.publish(Self.smartosLTS, name: "base-64-lts", version: "20.4.0", extra: """
            "published_at": "2020-02-01T00:00:00Z", "billing_tags": ["a"], "tags": {"role": "os"}
            """)
        try await admin.publish(Self.ubuntu, name: "ubuntu-20.04", version: "20200101", os: "linux", type: "lx-dataset",
                                extra: #""published_at": "2020-03-01T00:00:00Z", "tags": {"role": "os", "kernel": "5.4"}"#,
                                file: Fixture.bytes(500))
        try await admin.publish(Self.centosDisabled, name: "centos-7", version: "20200201", os: "linux", type: "lx-dataset",
                                extra: #""published_at": "2020-04-01T00:00:00Z""#)
        expect(try await admin.postJSON("/images/\(Self.centosDisabled)?action=disable", "{}"), status: 200)
        try await admin.publish(Self.docker, name: "docker-thing", version: "1.0", os: "linux", type: "docker",
                                extra: #""published_at": "2020-05-01T00:00:00Z""#)
        expect(try await admin.postJSON("/images/\(Self.pending)?action=import",
                                        Fixture.manifest(uuid: Self.pending, name: "pending")), status: 200)
    }

    override func tearDown() async throws {
        server.stop()
    }

    func expectList(_ query: String, as client: TestClient? = nil, _ expected: [String], _ message: String = "",
                    file: StaticString = #filePath, line: UInt = #line) async throws {
        let listed = try await list(query, as: client, file: file, line: line)
        XCTAssertEqual(listed, expected, "\(query) \(message)", file: file, line: line)
    }

    func expectCount(_ query: String, _ count: Int, _ message: String = "",
                     file: StaticString = #filePath, line: UInt = #line) async throws {
        let listed = try await list(query, file: file, line: line)
        XCTAssertEqual(listed.count, count, "\(query) \(message)", file: file, line: line)
    }

    /// The uuids `GET /images?query` lists, in order.
    func list(_ query: String, as client: TestClient? = nil, file: StaticString = #filePath, line: UInt = #line) async throws -> [String] {
        let result = try await (client ?? anonymous).get("/images" + (query.isEmpty ? "" : "?" + query))
        XCTAssertEqual(result.status, 200, "\(query): \(result.text)", file: file, line: line)
        return try XCTUnwrap(result.json().arrayValue, file: file, line: line).compactMap { $0.objectValue?["uuid"]?.stringValue }
    }

    func testDefaultListingIsEveryActiveImageOldestFirst() async throws {
        let active = [Self.smartos, Self.smartosLTS, Self.ubuntu, Self.docker]
        try await expectList("", active)
        try await expectList("", as: admin, active)
        try await expectList("state=active", active)
    }

    func testStateFilter() async throws {
        try await expectList("state=disabled", as: admin, [Self.centosDisabled])
        try await expectList("state=unactivated", as: admin, [Self.pending])
        // Unactivated images have no published_at and sort first.
        try await expectList("state=all", as: admin,
                       [Self.pending, Self.smartos, Self.smartosLTS, Self.ubuntu, Self.centosDisabled, Self.docker])
        try await expectList("state=creating", as: admin, [])
        // Anonymous callers only ever see active images.
        try await expectList("state=disabled", [])
        try await expectList("state=unactivated", [])
        try await expectList("state=all", [Self.smartos, Self.smartosLTS, Self.ubuntu, Self.docker])
    }

    func testNameAndVersionExactOrSubstring() async throws {
        try await expectList("name=base-64", [Self.smartos])
        try await expectList("name=~base", [Self.smartos, Self.smartosLTS])
        try await expectList("name=~BASE", [], "substring match is case-sensitive")
        try await expectList("name=base", [])
        try await expectList("version=20200101", [Self.ubuntu])
        try await expectList("version=~20.", [Self.smartos, Self.smartosLTS])
        try await expectList("name=~-&version=~.4", [Self.smartosLTS])
        try await expectList("name=%7E64-lts", [Self.smartosLTS], "an encoded ~ is a substring match too")
    }

    func testOsTypeAndOwner() async throws {
        try await expectList("os=linux", [Self.ubuntu, Self.docker])
        try await expectList("os=smartos", [Self.smartos, Self.smartosLTS])
        try await expectList("os=plan9", [])
        try await expectList("type=lx-dataset", as: admin, [Self.ubuntu])
        try await expectList("type=lx-dataset&state=all", as: admin, [Self.ubuntu, Self.centosDisabled])
        try await expectList("type=!zone-dataset", [Self.ubuntu, Self.docker])
        try await expectList("type=!docker&os=linux", [Self.ubuntu])
        try await expectList("type=zvol", [])
        try await expectCount("owner=\(ImageUUID.zero)", 4)
        try await expectList("owner=22222222-0000-4000-8000-000000000000", [])
    }

    func testTagsMatchTheirStringForm() async throws {
        try await expectList("tag.role=os", [Self.smartos, Self.smartosLTS, Self.ubuntu])
        try await expectList("tag.num=42", [Self.smartos])
        try await expectList("tag.num=42.0", [])
        try await expectList("tag.ok=true", [Self.smartos])
        try await expectList("tag.role=os&tag.kernel=5.4", [Self.ubuntu], "several tags are ANDed")
        try await expectList("tag.role=os&tag.kernel=4.4", [])
        try await expectList("tag.obj=", [Self.smartos], "object values are indexed as empty strings")
        try await expectList("tag.missing=x", [])
    }

    /// Broken upstream (it throws); here every given billing tag must be present.
    func testBillingTagsAreAnded() async throws {
        try await expectList("billing_tag=a", [Self.smartos, Self.smartosLTS])
        try await expectList("billing_tag=a&billing_tag=b", [Self.smartos])
        try await expectList("billing_tag=b&billing_tag=c", [])
    }

    func testPublicFilterInPublicMode() async throws {
        try await expectCount("public=true", 4)
        try await expectList("public=false", [])
    }

    func testLimitMarkerAndSort() async throws {
        try await expectList("limit=2", [Self.smartos, Self.smartosLTS])
        try await expectCount("limit=0", 4, "0 means no limit")
        try await expectList("marker=\(Self.smartosLTS)", [Self.smartosLTS, Self.ubuntu, Self.docker],
                       "the marker is inclusive")
        try await expectList("marker=\(Self.smartosLTS)&limit=2", [Self.smartosLTS, Self.ubuntu])
        try await expectList("marker=2020-02-15T00:00:00Z", [Self.ubuntu, Self.docker])
        try await expectList("marker=2020-03-01T00:00:00.000Z", [Self.ubuntu, Self.docker])
        try await expectList("sort=published_at.desc", [Self.docker, Self.ubuntu, Self.smartosLTS, Self.smartos])
        try await expectList("sort=published_at.DESC&limit=2", [Self.docker, Self.ubuntu],
                       "descending with a limit gives the newest (the reference's local backend gives the oldest)")
        try await expectList("sort=published_at.desc&marker=\(Self.ubuntu)", [Self.ubuntu, Self.smartosLTS, Self.smartos])
        try await expectList("sort=published_at.asc&limit=1", [Self.smartos])
        try await expectList("sort=published_at", [Self.smartos, Self.smartosLTS, Self.ubuntu, Self.docker])
    }

    func testAdminFieldsOnlyForSignedInCallers() async throws {
        let listed = try await admin.get("/images?inclAdminFields=true")
        XCTAssertEqual(listed.status, 200, listed.text)
        XCTAssertEqual(try listed.json().arrayValue?.count, 4)
        expect(try await anonymous.get("/images?inclAdminFields=true"), status: 401)
        try await expectCount("inclAdminFields=false", 4)
        // The admin view is cached apart: the same caller's plain listing has no admin fields.
        let withAdmin = try listed.json().arrayValue?.first?.objectValue?["files"]?.arrayValue?.first?.objectValue
        XCTAssertNotNil(withAdmin?["stor"], "the admin view has files[].stor")
        let plain = try await admin.get("/images")
        let plainFile = try plain.json().arrayValue?.first?.objectValue?["files"]?.arrayValue?.first?.objectValue
        XCTAssertNotNil(plainFile)
        XCTAssertNil(plainFile?["stor"], "a plain listing after an admin one: \(plain.text.prefix(300))")
    }

    /// A listing item is exactly what GetImage returns for that image.
    func testListedItemsEqualGetImage() async throws {
        let items = try await anonymous.get("/images").json().arrayValue ?? []
        XCTAssertEqual(items.count, 4)
        for item in items {
            let uuid = try XCTUnwrap(item.objectValue?["uuid"]?.stringValue)
            let got = try await anonymous.get("/images/\(uuid)").json()
            XCTAssertEqual(got, item, uuid)
        }
    }
}
