import Foundation
import ObjectStorage
import XCTest

/// The S3 peer `scripts/s3-peer` started for the tests (`IMGAPID_TEST_S3_*`): a location of
/// its own under the test bucket, a client to look into it, and a config file that points a
/// server at it (`blobs`, `blobsCredentialsFile`, and loopback trusted to publish).
struct TestObjectStore {
    let location: S3Location
    let client: S3Client
    let config: URL
    /// The credentials as the AWS tools take them, for a command run with `--blobs`.
    let environment: [String: String]

    init() throws {
        let environment = ProcessInfo.processInfo.environment
        guard let endpoint = environment["IMGAPID_TEST_S3_ENDPOINT"], let id = environment["IMGAPID_TEST_S3_KEY_ID"],
              let secret = environment["IMGAPID_TEST_S3_SECRET"] else {
            if environment["CI"] == "true" { throw TestFailure("no S3 peer: scripts/test starts one with scripts/s3-peer") }
            throw XCTSkip("no S3 peer: run `eval \"$(scripts/s3-peer)\"` first")
        }
        location = try S3Location(parsing: "s3://imgapid-test/\(UUID().uuidString)?endpoint=\(endpoint)&region=us-east-1")
        client = S3Client(location: location, credentials: S3Credentials(accessKeyID: id, secretAccessKey: secret))
        self.environment = ["AWS_ACCESS_KEY_ID": id, "AWS_SECRET_ACCESS_KEY": secret]
        let directory = try ServerProcess.temporaryDirectory()
        let credentials = directory.appendingPathComponent("credentials")
        try "[default]\naws_access_key_id = \(id)\naws_secret_access_key = \(secret)\n".write(to: credentials, atomically: true, encoding: .utf8)
        config = directory.appendingPathComponent("config.json")
        try #"{"blobs": "\#(location)", "blobsCredentialsFile": "\#(credentials.path)", "trustedNetworks": ["127.0.0.1/32"]}"#
            .write(to: config, atomically: true, encoding: .utf8)
    }

    /// The object key the server uses for a file (`SharedBlobs.key`), below the location's prefix.
    static func key(_ bytes: [UInt8]) -> String {
        let sha256 = Fixture.sha256(bytes)
        return "blobs/sha256/\(sha256.prefix(2))/\(sha256)"
    }
}
