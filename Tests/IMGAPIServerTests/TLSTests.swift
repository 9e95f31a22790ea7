import AsyncHTTPClient
import Foundation
import IMGAPI
import IMGAPIClient
import NIOSSL
import XCTest

/// `imgapid serve --tls-cert --tls-key`: HTTPS with a certificate made here by openssl, read
/// by curl and by imgapid's own client; TLS 1.2 and later only; a renewed certificate taken
/// on SIGHUP without a restart, and a broken one refused while the old one stays.
final class TLSTests: XCTestCase {
    var directory: URL!

    override func setUp() async throws {
        directory = try ServerProcess.temporaryDirectory()
    }

    override func tearDown() async throws {
        try? FileManager.default.removeItem(at: directory)
    }

    /// A self-signed certificate for 127.0.0.1 and its key, written as `name`.pem and `name`.key.
    func makeCertificate(_ name: String) throws -> (certificate: String, key: String) {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl") else {
            if ProcessInfo.processInfo.environment["CI"] == "true" { throw TestFailure("openssl is missing (scripts/setup installs it)") }
            throw XCTSkip("openssl is not installed")
        }
        let certificate = directory.appendingPathComponent("\(name).pem").path
        let key = directory.appendingPathComponent("\(name).key").path
        let made = try ChildProcess.run("/usr/bin/openssl", [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
            "-out", certificate, "-days", "2", "-subj", "/CN=\(name)", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ], timeout: 60)
        XCTAssertEqual(made.status, 0, made.output)
        return (certificate, key)
    }

    func curl(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try ChildProcess.run("/usr/bin/curl", ["-sS", "--max-time", "30"] + arguments, timeout: 60)
    }

    func testHTTPSWithCurlAndOurClientAndACertificateRenewedOnHangup() async throws {
        let first = try makeCertificate("first")
        let installed = (certificate: directory.appendingPathComponent("server.pem").path,
                         key: directory.appendingPathComponent("server.key").path)
        try FileManager.default.copyItem(atPath: first.certificate, toPath: installed.certificate)
        try FileManager.default.copyItem(atPath: first.key, toPath: installed.key)
        let server = try ServerProcess(["--tls-cert", installed.certificate, "--tls-key", installed.key])
        try server.start()
        defer { server.stop() }
        XCTAssertTrue(server.logLines.contains { $0.contains("\"msg\":\"listening\"") && $0.contains("\"tls\":true") })
        let url = "https://127.0.0.1:\(server.port)"

        let ping = try curl(["--cacert", first.certificate, "\(url)/ping"])
        XCTAssertEqual(ping.status, 0, ping.output)
        XCTAssertTrue(ping.output.contains("\"imgapi\": true"), ping.output)
        let oldTLS = try curl(["--cacert", first.certificate, "--tlsv1.1", "--tls-max", "1.1", "\(url)/ping"])
        XCTAssertNotEqual(oldTLS.status, 0, "TLS 1.1 must be refused: \(oldTLS.output)")
        let plain = try curl(["http://127.0.0.1:\(server.port)/ping"])
        XCTAssertFalse(plain.output.contains("pong"), "no plain HTTP on the TLS port: \(plain.output)")

        // imgapid's own client (mirror, import-remote), trusting this certificate.
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(first.certificate))
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
        let pong = try? await IMGAPIClient(url: url, http: http).ping()
        try await http.shutdown()
        XCTAssertEqual(pong?["imgapi"], .bool(true))

        // Renewal: new files, SIGHUP, and new connections get the new certificate.
        let second = try makeCertificate("second")
        try FileManager.default.removeItem(atPath: installed.certificate)
        try FileManager.default.removeItem(atPath: installed.key)
        try FileManager.default.copyItem(atPath: second.certificate, toPath: installed.certificate)
        try FileManager.default.copyItem(atPath: second.key, toPath: installed.key)
        server.signal(SIGHUP)
        XCTAssertTrue(server.waitForLogLine { $0.contains("tls certificate reloaded") }, server.logLines.joined(separator: "\n"))
        let renewed = try curl(["--cacert", second.certificate, "\(url)/ping"])
        XCTAssertEqual(renewed.status, 0, renewed.output)
        let stale = try curl(["--cacert", first.certificate, "\(url)/ping"])
        XCTAssertNotEqual(stale.status, 0, "the old certificate is no longer served: \(stale.output)")

        // A broken renewal is refused; the certificate loaded last stays.
        try "not a certificate".write(toFile: installed.certificate, atomically: true, encoding: .utf8)
        server.signal(SIGHUP)
        XCTAssertTrue(server.waitForLogLine { $0.contains("tls certificate not reloaded") }, server.logLines.joined(separator: "\n"))
        let kept = try curl(["--cacert", second.certificate, "\(url)/ping"])
        XCTAssertEqual(kept.status, 0, kept.output)
    }

    func testAKeyThatDoesNotFitTheCertificateIsRefusedAtStart() throws {
        let first = try makeCertificate("first")
        let second = try makeCertificate("second")
        let started = try ServerProcess.run(["serve", "--storage", directory.appendingPathComponent("storage").path,
                                             "--port", "0", "--tls-cert", first.certificate, "--tls-key", second.key], timeout: 60)
        XCTAssertNotEqual(started.status, 0)
        XCTAssertTrue(started.output.contains("does not fit the certificate"), started.output)
        let half = try ServerProcess.run(["serve", "--tls-cert", first.certificate], timeout: 60)
        XCTAssertNotEqual(half.status, 0)
        XCTAssertTrue(half.output.contains("go together"), half.output)
    }
}
