import Foundation
import HTTPSignature
import IMGAPI
import IMGAPIServer
import XCTest

/// `imgapid serve --config FILE`: reference-compatible keys, flags override the file,
/// `--print-config`, and unknown keys or bad values stop the server naming the key.
final class ConfigFileTests: XCTestCase {
    var directory: URL!

    override func setUp() async throws {
        directory = try ServerProcess.temporaryDirectory()
    }

    override func tearDown() async throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func write(_ json: String) throws -> String {
        let file = directory.appendingPathComponent("imgapi.config.json")
        try json.write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }

    func printedConfig(_ arguments: [String]) throws -> JSONObject {
        let result = try ServerProcess.run(["serve", "--print-config"] + arguments)
        XCTAssertEqual(result.status, 0, result.output)
        return try XCTUnwrap(try JSONValue.parse(Array(result.output.utf8)).objectValue, result.output)
    }

    func testDefaultsFileAndFlagsInThatOrder() throws {
        let defaults = try printedConfig([])
        XCTAssertEqual(defaults["address"], .string("127.0.0.1"))
        XCTAssertEqual(defaults["port"], .number(8080))
        XCTAssertEqual(defaults["mode"], .string("public"))
        XCTAssertEqual(defaults["authType"], .string("signature"))
        XCTAssertEqual(defaults["storageDir"], .string("./storage"))

        let file = try write("""
            {"mode": "private", "authType": "none", "port": 9090, "address": "0.0.0.0", "serverName": "images-lab",
             "storageDir": "/var/imgapi", "trustedNetworks": ["10.0.0.0/8", "fd00::/8"], "maxJSONBodySize": 65536}
            """)
        let fromFile = try printedConfig(["--config", file])
        XCTAssertEqual(fromFile["mode"], .string("private"))
        XCTAssertEqual(fromFile["authType"], .string("none"))
        XCTAssertEqual(fromFile["port"], .number(9090))
        XCTAssertEqual(fromFile["address"], .string("0.0.0.0"))
        XCTAssertEqual(fromFile["serverName"], .string("images-lab"))
        XCTAssertEqual(fromFile["storageDir"], .string("/var/imgapi"))
        XCTAssertEqual(fromFile["trustedNetworks"], .array([.string("10.0.0.0/8"), .string("fd00::/8")]))
        XCTAssertEqual(fromFile["maxJSONBodySize"], .number(65536))

        let overridden = try printedConfig(["--config", file, "--port", "7070", "--mode", "public",
                                            "--trust-network", "192.168.1.0/24"])
        XCTAssertEqual(overridden["port"], .number(7070))
        XCTAssertEqual(overridden["mode"], .string("public"))
        XCTAssertEqual(overridden["trustedNetworks"], .array([.string("192.168.1.0/24")]))
        XCTAssertEqual(overridden["authType"], .string("none"), "not overridden, so the file's")
    }

    func testUnknownKeysAndBadValuesStopTheServerNamingTheKey() throws {
        let cases = [
            #"{"databaseType": "moray"}"#: "databaseType",
            #"{"mode": "dc"}"#: "mode",
            #"{"port": "8080"}"#: "port",
            #"{"port": 70000}"#: "port",
            #"{"authType": "basic"}"#: "authType",
            #"{"trustedNetworks": ["10.0.0.0/33"]}"#: "trustedNetworks",
            #"{"trustedNetworks": "10.0.0.0/8"}"#: "trustedNetworks",
            #"{"address": ""}"#: "address",
            #"{"maxJSONBodySize": 1.5}"#: "maxJSONBodySize",
            #"{"channels": []}"#: "channels",
            #"{"channels": [{"name": "Dev", "description": "x"}]}"#: "channels",
            #"{"channels": [{"name": "a", "description": "x", "default": true}, {"name": "b", "description": "y", "default": true}]}"#: "channels",
            #"{"channels": [{"name": "a", "description": "x"}, {"name": "a", "description": "y"}]}"#: "channels",
            #"{"channels": [{"name": "a"}]}"#: "channels",
            #"{"mirrors": [{"interval": 3600}]}"#: "mirrors[0]",
            #"{"mirrors": [{"from": "http://x", "interval": 5}]}"#: "mirrors[0]",
            #"{"mirrors": [{"from": "http://x", "interval": 3600, "nmae": "base"}]}"#: "mirrors[0]",
            #"{"mirrors": [{"from": "http://x", "interval": 3600, "uuid": "nope"}]}"#: "mirrors[0]",
            #"{"mirrors": {"from": "http://x"}}"#: "mirrors",
            #"{"storageTypes": ["local", "manta"]}"#: "storageTypes",
            #"{"allowInsecure": true}"#: "allowInsecure",
            #"{"placeholderImageLifespanDays": 0}"#: "placeholderImageLifespanDays",
            #"{"authKeys": {"bob": ["ssh-rsa nonsense"]}}"#: "authKeys",
            #"{"authKeys": {"../bob": []}}"#: "authKeys",
            #"{"upstreams": "https://images.smartos.org"}"#: "upstreams",
            #"{"upstreams": [{"url": "ftp://images.smartos.org"}]}"#: "upstreams[0]",
            #"{"upstreams": [{"url": "http://x", "ttl": 0}]}"#: "upstreams[0]",
            #"{"upstreams": [{"url": "http://x", "nmae": "base"}]}"#: "upstreams[0]",
            #"{"cacheMaxBytes": -1}"#: "cacheMaxBytes",
        ]
        for (json, key) in cases {
            let result = try ServerProcess.run(["serve", "--print-config", "--config", try write(json)])
            XCTAssertNotEqual(result.status, 0, json)
            XCTAssertTrue(result.output.contains("\"\(key)\""), "\(json): \(result.output)")
        }
        for broken in ["{", "[]", ""] {
            let result = try ServerProcess.run(["serve", "--print-config", "--config", try write(broken)])
            XCTAssertNotEqual(result.status, 0, broken)
            XCTAssertTrue(result.output.contains("imgapi.config.json"), result.output)
        }
        let missing = try ServerProcess.run(["serve", "--config", directory.appendingPathComponent("none.json").path])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.output.contains("cannot read"), missing.output)
    }

    func testMirrorDefinitionsArePrinted() throws {
        let file = try write("""
            {"mirrors": [{"from": "https://images.smartos.org", "name": ["base-64-lts", "~minimal"], "latest": 2,
                          "interval": 86400, "prune": true}]}
            """)
        let mirrors = try printedConfig(["--config", file])["mirrors"]?.arrayValue
        let mirror = try XCTUnwrap(mirrors?.first?.objectValue)
        XCTAssertEqual(mirror["from"], .array([.string("https://images.smartos.org")]))
        XCTAssertEqual(mirror["name"], .array([.string("base-64-lts"), .string("~minimal")]))
        XCTAssertEqual(mirror["latest"], .number(2))
        XCTAssertEqual(mirror["interval"], .number(86400))
        XCTAssertEqual(mirror["prune"], .bool(true))
    }

    func testUpstreamsArePrinted() throws {
        let file = try write("""
            {"upstreams": [{"url": "https://images.smartos.org?channel=release", "ttl": 60, "name": "~base"},
                           {"url": "http://10.0.0.5:8080"}], "cacheMaxBytes": 1000000}
            """)
        let printed = try printedConfig(["--config", file])
        XCTAssertEqual(printed["upstreams"], .array([
            .object(JSONObject([("url", .string("https://images.smartos.org?channel=release")), ("ttl", .number(60)),
                                ("name", .string("~base"))])),
            .object(JSONObject([("url", .string("http://10.0.0.5:8080")), ("ttl", .number(300))])),
        ]))
        XCTAssertEqual(printed["cacheMaxBytes"], .number(1_000_000))
    }

    /// The shared catalog and object store are printed without secrets; a password on the
    /// command line is refused, as every user of the machine could read it.
    func testSharedStoresArePrintedWithoutSecrets() throws {
        let file = try write("""
            {"catalog": "postgres://imgapid:s3cret@db.example:5433/images?sslmode=require",
             "blobs": "s3://images/prod?endpoint=http://10.0.0.9:9000&region=eu-1", "blobsCredentialsFile": "/etc/imgapid/aws"}
            """)
        let printed = try printedConfig(["--config", file])
        XCTAssertEqual(printed["catalog"], .string("postgres://imgapid@db.example:5433/images?sslmode=require"))
        XCTAssertEqual(printed["blobs"], .string("s3://images/prod?endpoint=http://10.0.0.9:9000&region=eu-1"))
        XCTAssertEqual(printed["blobsCredentialsFile"], .string("/etc/imgapid/aws"))
        XCTAssertFalse(JSONValue.object(printed).compact().contains("s3cret"))
        let refused = try ServerProcess.run(["serve", "--print-config", "--catalog", "postgres://imgapid:s3cret@db.example/images"])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.output.contains("PGPASSWORD"), refused.output)
        let bad = try ServerProcess.run(["serve", "--print-config", "--config", try write(#"{"blobs": "s3://Bad_Bucket"}"#)])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.output.contains("config key \"blobs\""), bad.output)
    }

    /// deploy/imgapid.example.json is a config that starts as it is, and names every key
    /// (set, or shown as a `//` comment): a new key must be documented there too.
    func testExampleConfigParsesAndNamesEveryKey() throws {
        let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("deploy/imgapid.example.json")
        let printed = try ServerProcess.run(["serve", "--print-config", "--config", example.path])
        XCTAssertEqual(printed.status, 0, printed.output)
        let object = try XCTUnwrap(try JSONValue.parse(Array(try Data(contentsOf: example))).objectValue)
        let named = Set(object.keys.map { $0.hasPrefix("//") ? String($0.dropFirst(2)).trimmingCharacters(in: .whitespaces) : $0 })
        for key in ServerConfiguration.FileKey.allCases {
            XCTAssertTrue(named.contains(key.rawValue), "deploy/imgapid.example.json does not mention \(key.rawValue)")
        }
    }

    /// What `--print-config` prints is a config file that gives the same configuration.
    func testPrintedConfigReadsBack() throws {
        for json in ["{}", #"{"channels": [{"name": "dev", "description": "d", "default": true}], "mode": "private"}"#] {
            let printed = try printedConfig(["--config", try write(json)])
            let again = try printedConfig(["--config", try write(JSONValue.object(printed).prettyPrinted())])
            XCTAssertEqual(again, printed, json)
        }
    }

    /// A reference server's config starts: "//" comments, `authKeys` (whose users can sign at
    /// once), and the reference keys for what imgapid does one way only, with that value.
    func testReferenceConfigCarriesOver() async throws {
        let key = try SSHPrivateKey.generate(.rsa(bits: 2048))
        let file = try write("""
            {"// notes": "copied from an sdc-imgapi standalone install", "mode": "public", "databaseType": "local",
             "storageTypes": ["local"], "placeholderImageLifespanDays": 7, "allowInsecure": false,
             "authKeys": {"bob": ["\(key.publicKey.openSSHLine)"]}}
            """)
        XCTAssertEqual(try printedConfig(["--config", file])["authKeys"],
                       .object(JSONObject([("bob", .array([.string(key.publicKey.openSSHLine)]))])))
        let server = try ServerProcess(["--config", file])
        try server.start()
        defer { server.stop() }
        let uuid = "c0f10000-0000-4000-8000-000000000002"
        let signed = TestClient(server, signer: RequestSigner(user: "bob", key: key))
        expect(try await signed.postJSON("/images/\(uuid)?action=import", Fixture.manifest(uuid: uuid)), status: 200)
        let stranger = TestClient(server, signer: RequestSigner(user: "eve", key: key))
        expect(try await stranger.get("/images/\(uuid)"), status: 401)
    }

    /// The file's settings take effect in the running server.
    func testServerRunsWithTheFileSettings() async throws {
        let file = try write(#"{"mode": "private", "serverName": "lab-images", "trustedNetworks": ["127.0.0.1/32"]}"#)
        let server = try ServerProcess(["--config", file])
        try server.start()
        defer { server.stop() }
        let client = TestClient(server)
        let uuid = "c0f10000-0000-4000-8000-000000000001"
        let imported = try await client.postJSON("/images/\(uuid)?action=import",
                                                 Fixture.manifest(uuid: uuid).replacingOccurrences(of: "\"public\": true", with: "\"public\": false"))
        XCTAssertEqual(imported.status, 200, "trusted network from the file: \(imported.text)")
        XCTAssertEqual(try imported.object()["public"], .bool(false))
        XCTAssertEqual(imported.header("Server"), "lab-images")
    }
}
