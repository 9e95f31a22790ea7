import Foundation
import XCTest

/// Reads answered from memory on the event loop (`MemoryAnswerHandler`: `/ping`, cached
/// GetImage and ListImages answers) are the answers the ordinary path gives, keep the order
/// of a connection's requests, and are logged and counted like any request.
final class MemoryAnswerTests: XCTestCase {
    func memoryAnswers(_ client: TestClient) async throws -> Double {
        try PrometheusText.parse(try await client.get("/metrics").text).value("imgapi_memory_answers_total") ?? -1
    }

    func testAnswersFromMemoryAreTheOrdinaryAnswers() async throws {
        let server = try ServerProcess(["--trust-network", "127.0.0.1/32"])
        try server.start()
        defer { server.stop() }
        let client = TestClient(server)
        let uuid = "3a000000-0000-4000-8000-000000000001"
        try await client.publish(uuid, name: "alpha")
        try await client.publish("3a000000-0000-4000-8000-000000000002", name: "beta")

        // Who sent the request is not in the answer; when it was, and how long it took, differ.
        let varying: Set<String> = ["date", "x-request-id", "x-response-time"]
        func headers(_ result: HTTPResult) -> [String: String] {
            var fields: [String: String] = [:]
            for (name, value) in result.headers where !varying.contains(name.lowercased()) { fields[name.lowercased()] = value }
            return fields
        }
        for path in ["/ping", "/images/\(uuid)", "/images?name=alpha", "/images?name=beta&os=smartos"] {
            // A Connection header sends a request the ordinary way (and renders what is not cached).
            let ordinary = try await client.get(path, headers: [("Connection", "keep-alive")])
            let before = try await memoryAnswers(client)
            let remembered = try await client.get(path)
            let after = try await memoryAnswers(client)
            XCTAssertEqual(after - before, 1, "\(path) was answered from memory")
            XCTAssertEqual(ordinary.status, 200, path)
            XCTAssertEqual(remembered.status, ordinary.status, path)
            XCTAssertEqual(remembered.text, ordinary.text, path)
            XCTAssertEqual(headers(remembered), headers(ordinary), path)
            let date = try XCTUnwrap(remembered.header("date"), path)
            XCTAssertEqual(date.count, ordinary.header("date")?.count, "the same date format: \(date)")
            XCTAssertTrue(date.hasSuffix(" GMT"), date)
            XCTAssertNotNil(remembered.header("x-response-time"), path)
        }

        // What only the ordinary path answers: a signed-in view, a conditional request that
        // ends in 304, a refusal.
        let before = try await memoryAnswers(client)
        let plain = try await client.get("/images/\(uuid)")
        let etag = try XCTUnwrap(plain.header("etag"))
        let notModified = try await client.get("/images/\(uuid)", headers: [("If-None-Match", etag)])
        let admin = try await client.get("/images/\(uuid)?inclAdminFields=true")
        let badAccount = try await client.get("/images?account=not-a-uuid")
        let after = try await memoryAnswers(client)
        XCTAssertEqual(notModified.status, 304)
        XCTAssertEqual(admin.errorCode, "UnauthorizedError")
        XCTAssertEqual(badAccount.errorCode, "InvalidParameter")
        XCTAssertEqual(after - before, 1, "only the plain GetImage came from memory")

        // A publish changes the catalog: the cached listing is not answered again.
        let listing = try await client.get("/images?name=alpha")
        try await client.publish("3a000000-0000-4000-8000-000000000003", name: "alpha", version: "2.0.0")
        let newer = try await client.get("/images?name=alpha")
        XCTAssertEqual(try listing.json().arrayValue?.count, 1)
        XCTAssertEqual(try newer.json().arrayValue?.count, 2)
    }

    func testAConnectionsAnswersKeepTheOrderOfItsRequests() async throws {
        let server = try ServerProcess()
        try server.start()
        defer { server.stop() }
        let client = TestClient(server)
        let first = try await client.get("/ping")
        XCTAssertEqual(first.status, 200)
        let before = try await memoryAnswers(client)

        // Three requests in one write: a listing not cached yet (a task renders it), a ping
        // that memory could answer at once, and a last ping that closes the connection.
        let connection = try RawConnection(port: server.port)
        XCTAssertTrue(connection.send("GET /images?name=nothing-yet HTTP/1.1\r\nHost: x\r\n\r\n"
            + "GET /ping HTTP/1.1\r\nHost: x\r\nx-request-id: second\r\n\r\n"
            + "GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
        let (bytes, closed) = connection.receiveAll()
        XCTAssertTrue(closed, "the server closed the connection after the last answer")
        let text = String(decoding: bytes, as: UTF8.self)
        let answers = Array(text.components(separatedBy: "HTTP/1.1 200 OK").dropFirst())
        XCTAssertEqual(answers.count, 3, text)
        guard answers.count == 3 else { return }
        XCTAssertTrue(answers[0].hasSuffix("[]"), "the listing first: \(answers[0])")
        XCTAssertTrue(answers[1].lowercased().contains("x-request-id: second") && answers[1].contains("\"pong\""), answers[1])
        XCTAssertTrue(answers[2].contains("\"pong\""), answers[2])
        let after = try await memoryAnswers(client)
        XCTAssertEqual(after - before, 0, "a request behind one still in the works takes the ordinary path")
    }

    func testAnswersFromMemoryAreLoggedAndCounted() async throws {
        let server = try ServerProcess()
        try server.start()
        defer { server.stop() }
        let client = TestClient(server)
        let pong = try await client.get("/ping?from=memory", headers: [("x-request-id", "memory-answer-1")])
        XCTAssertEqual(pong.status, 200)
        XCTAssertEqual(pong.header("x-request-id"), "memory-answer-1")
        let counted = try await memoryAnswers(client)
        XCTAssertEqual(counted, 1)
        XCTAssertTrue(server.waitForLogLine {
            $0.contains("\"req_id\":\"memory-answer-1\"") && $0.contains("\"url\":\"/ping?from=memory\"") && $0.contains("\"status\":200")
        }, "the answer from memory was logged")
        let samples = try PrometheusText.parse(try await client.get("/metrics").text)
        XCTAssertEqual(samples.value("imgapi_http_requests_total", ["route": "/ping", "method": "GET", "status": "200"]), 1)
    }
}
