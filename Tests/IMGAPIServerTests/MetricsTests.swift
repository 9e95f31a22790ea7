import Foundation
import IMGAPI
import XCTest

/// `GET /metrics` read by Prometheus' own text parser, and `GET /ready`.
final class MetricsTests: XCTestCase {
    func testMetricsCountRequestsUploadsAndTheCatalog() async throws {
        let server = try ServerProcess(["--trust-network", "127.0.0.1/32"])
        try server.start()
        defer { server.stop() }
        let client = TestClient(server)
        let files = [Fixture.bytes(70_000, seed: 1), Fixture.bytes(30_000, seed: 2)]
        try await client.publish("3e700000-0000-4000-8000-000000000001", file: files[0])
        try await client.publish("3e700000-0000-4000-8000-000000000002", file: files[1])
        let unactivated = Fixture.manifest(uuid: "3e700000-0000-4000-8000-000000000003", name: "pending", version: "1",
                                           os: "smartos", type: "zone-dataset", extra: "")
        _ = try await client.postJSON("/images/3e700000-0000-4000-8000-000000000003?action=import", unactivated)
        let refused = try await client.putFile("3e700000-0000-4000-8000-000000000003", [1, 2, 3], query: "compression=gzip&sha1=" + String(repeating: "0", count: 40))
        XCTAssertEqual(refused.status / 100, 4, refused.text)
        let download = try await client.get("/images/3e700000-0000-4000-8000-000000000001/file")
        XCTAssertEqual(download.body, files[0])
        for _ in 0..<3 { _ = try await client.get("/ping") }
        _ = try await client.get("/no/such/path")

        let scraped = try await client.get("/metrics")
        XCTAssertEqual(scraped.status, 200)
        XCTAssertTrue(scraped.headers["Content-Type"].first?.hasPrefix("text/plain; version=0.0.4") == true)
        let samples = try PrometheusText.parse(scraped.text)
        XCTAssertEqual(samples.value("imgapi_images", ["state": "active"]), 2)
        XCTAssertEqual(samples.value("imgapi_images", ["state": "unactivated"]), 1)
        XCTAssertEqual(samples.value("imgapi_stored_file_bytes"), Double(files[0].count + files[1].count))
        XCTAssertEqual(samples.value("imgapi_publishes_total", ["result": "ok"]), 2)
        XCTAssertEqual(samples.value("imgapi_publishes_total", ["result": "failed"]), 1)
        XCTAssertEqual(samples.value("imgapi_http_requests_total", ["route": "/ping", "method": "GET", "status": "200"]), 3)
        XCTAssertEqual(samples.value("imgapi_http_requests_total", ["route": "/images/:uuid/file", "method": "GET", "status": "200"]), 1)
        XCTAssertEqual(samples.value("imgapi_http_requests_total", ["route": "other", "method": "GET", "status": "404"]), 1)
        XCTAssertEqual(samples.value("imgapi_http_request_duration_seconds_count", ["route": "/ping"]), 3)
        XCTAssertGreaterThanOrEqual(samples.value("imgapi_http_response_body_bytes_total", ["route": "/images/:uuid/file"]) ?? 0,
                                    Double(files[0].count))
        XCTAssertGreaterThanOrEqual(samples.value("imgapi_http_request_body_bytes_total") ?? 0, Double(files[0].count + files[1].count))
        XCTAssertGreaterThanOrEqual(samples.value("imgapi_open_connections") ?? 0, 1, "the scrape's own connection")
        XCTAssertEqual(samples.value("imgapi_uploads_in_flight"), 0)
        XCTAssertEqual(samples.value("imgapi_downloads_in_flight"), 0)
        XCTAssertGreaterThan(samples.value("imgapi_storage_free_bytes") ?? 0, 0)
        XCTAssertEqual(samples.value("imgapi_quarantined_files"), 0)
        XCTAssertNotNil(samples.value("imgapi_build_info"))
    }

    func testMetricsOnAListenerOfTheirOwn() async throws {
        let server = try ServerProcess(["--metrics-address", "127.0.0.1:0"])
        try server.start()
        defer { server.stop() }
        XCTAssertTrue(server.waitForLogLine { $0.contains("\"msg\":\"metrics listening\"") }, server.logLines.joined(separator: "\n"))
        let line = try XCTUnwrap(server.logLines.first { $0.contains("\"msg\":\"metrics listening\"") })
        let port = try XCTUnwrap(try JSONValue.parse(Array(line.utf8)).objectValue?["port"]?.intValue)
        var client = TestClient(server)
        let main = try await client.get("/metrics")
        XCTAssertEqual(main.status, 404, "not on the main listener: \(main.text)")
        client.baseURL = "http://127.0.0.1:\(port)"
        let scraped = try await client.get("/metrics")
        XCTAssertEqual(scraped.status, 200)
        let samples = try PrometheusText.parse(scraped.text)
        XCTAssertEqual(samples.value("imgapi_http_requests_total", ["route": "/metrics", "status": "404"]), 1)
    }

    func testReadinessSaysWhyTheServerIsNotReady() async throws {
        let server = try ServerProcess()
        try server.start()
        let ready = try await TestClient(server).get("/ready")
        XCTAssertEqual(ready.status, 200, ready.text)
        let body = try ready.object()
        XCTAssertEqual(body["ready"], .bool(true))
        XCTAssertEqual(body["problems"], .array([]))
        XCTAssertEqual(body["quarantinedFiles"], .number(0))
        XCTAssertNotNil(body["scrub"]?.objectValue?["running"])
        server.stop()

        let config = server.storage.appendingPathComponent("full.json")
        try #"{"readyMinFreeMB": 1000000000}"#.write(to: config, atomically: true, encoding: .utf8)
        let starved = try ServerProcess(["--config", config.path], storage: server.storage)
        try starved.start()
        defer { starved.stop() }
        let notReady = try await TestClient(starved).get("/ready")
        XCTAssertEqual(notReady.status, 503, notReady.text)
        let problems = try notReady.object()["problems"]?.arrayValue?.compactMap(\.stringValue) ?? []
        XCTAssertEqual(problems.count, 1, notReady.text)
        XCTAssertTrue(problems.first?.contains("readyMinFreeMB") == true, notReady.text)
        let ping = try await TestClient(starved).get("/ping")
        XCTAssertEqual(ping.status, 200, "/ping answers as the reference does")
    }
}
