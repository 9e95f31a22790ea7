import Foundation
import XCTest

/// The log must never stop the server: a closed or unread standard output used to kill it
/// (EPIPE trapped) or block every request once the pipe was full.
final class LogOutputTests: XCTestCase {
    /// `imgapid serve` with standard output on a pipe the test controls, started once its
    /// `listening` line is read; the caller decides what happens to the pipe next.
    final class PipedServer: @unchecked Sendable {
        let process: ChildProcess
        /// The read end of the server's standard output.
        let output: FileHandle
        let storage: URL
        var port = 0

        init() throws {
            storage = try ServerProcess.temporaryDirectory()
            (process, output) = try ChildProcess.withOutput(
                ServerProcess.executable.path, ["serve", "--storage", storage.path, "--port", "0", "--trust-network", "127.0.0.1/32"],
                stderr: STDERR_FILENO)
            var text = ""
            let deadline = Date().addingTimeInterval(30)
            while port == 0, Date() < deadline {
                let chunk = output.availableData
                if chunk.isEmpty { break }
                text += String(decoding: chunk, as: UTF8.self)
                if let line = text.split(separator: "\n").first(where: { $0.contains("\"msg\":\"listening\"") }),
                   let range = line.range(of: "\"port\":") {
                    port = Int(line[range.upperBound...].prefix { $0.isNumber }) ?? 0
                }
            }
            guard port != 0 else { throw TestFailure("imgapid did not start: \(text)") }
        }

        func ping(_ query: String = "") throws -> Int? {
            RawHTTP.status(of: try RawHTTP.exchange(port: port, lines: ["GET /ping\(query) HTTP/1.1", "Host: x", "Connection: close"]))
        }

        /// SIGTERM, then waits at most `seconds` for the exit; true when it exited.
        func terminate(within seconds: TimeInterval) -> Bool {
            process.signal(SIGTERM)
            return process.wait(within: seconds)
        }

        deinit {
            process.signal(SIGKILL)
            try? FileManager.default.removeItem(at: storage)
        }
    }

    func testClosedStandardOutputDoesNotKillTheServer() throws {
        let server = try PipedServer()
        try server.output.close()
        for _ in 0..<20 { XCTAssertEqual(try server.ping(), 200) }
        XCTAssertTrue(server.process.isRunning, "the server died writing its log to a closed pipe")
        XCTAssertTrue(server.terminate(within: 30))
    }

    func testUnreadStandardOutputNeitherBlocksRequestsNorStop() throws {
        let server = try PipedServer()
        // Nobody reads the pipe: its 64 KiB fill up after a few hundred request lines.
        for i in 0..<2000 {
            let status = try server.ping()
            XCTAssertEqual(status, 200, "request \(i)")
            if status != 200 { break }
        }
        XCTAssertTrue(server.terminate(within: 30), "SIGTERM was not answered")
    }

    /// Lines dropped while the log was blocked are counted in a line once it flows again.
    func testDroppedLinesAreReportedWhenTheLogFlowsAgain() throws {
        let server = try PipedServer()
        // 1,000 lines of about 8 KiB overflow the 64 KiB pipe and the 4 MiB queue.
        let padding = "?pad=" + String(repeating: "x", count: 8000)
        for _ in 0..<1000 { XCTAssertEqual(try server.ping(padding), 200) }
        let reader = server.output
        var text = ""
        /// The notice, once its whole line has been read (a read may end mid-line).
        func notice() -> Substring? {
            text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().first { $0.contains("log lines dropped") }
        }
        let deadline = Date().addingTimeInterval(30)
        while notice() == nil, Date() < deadline {
            XCTAssertEqual(try server.ping(), 200)
            text += String(decoding: reader.availableData, as: UTF8.self)
        }
        let notice = try XCTUnwrap(notice())
        let count = notice.range(of: "\"dropped\":").map { Int(notice[$0.upperBound...].prefix { $0.isNumber }) ?? 0 } ?? 0
        XCTAssertGreaterThan(count, 0, String(notice))
        let scraped = try RawHTTP.exchange(port: server.port, lines: ["GET /metrics HTTP/1.1", "Host: x", "Connection: close"])
        let body = String(scraped[scraped.range(of: "\r\n\r\n")!.upperBound...])
        let samples = try PrometheusText.parse(body)
        XCTAssertGreaterThanOrEqual(samples.value("imgapi_log_lines_dropped_total") ?? 0, Double(count), "the metric counts them too")
        XCTAssertTrue(server.terminate(within: 30))
    }

    /// `--log-file`: lines go to the file; after logrotate moves it away, SIGHUP opens a new one.
    func testLogFileIsReopenedOnHangup() throws {
        let directory = try ServerProcess.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let log = directory.appendingPathComponent("imgapid.log")
        let rotated = directory.appendingPathComponent("imgapid.log.1")
        let process = try ChildProcess.quiet(ServerProcess.executable.path, [
            "serve", "--storage", directory.appendingPathComponent("storage").path, "--port", "0", "--log-file", log.path,
        ])
        defer {
            process.signal(SIGKILL)
            process.wait()
        }
        func waitForLine(in file: URL, _ matches: (String) -> Bool) -> String? {
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline {
                let text = (try? String(contentsOf: file, encoding: .utf8)) ?? ""
                if let line = text.split(separator: "\n").first(where: { matches(String($0)) }) { return String(line) }
                usleep(50_000)
            }
            return nil
        }
        let listening = try XCTUnwrap(waitForLine(in: log) { $0.contains("\"msg\":\"listening\"") })
        let port = try XCTUnwrap(listening.range(of: "\"port\":").flatMap { Int(listening[$0.upperBound...].prefix { $0.isNumber }) })
        func ping(_ tag: String) throws {
            let response = try RawHTTP.exchange(port: port, lines: ["GET /ping?\(tag) HTTP/1.1", "Host: x", "Connection: close"])
            XCTAssertEqual(RawHTTP.status(of: response), 200)
        }
        try ping("before")
        XCTAssertNotNil(waitForLine(in: log) { $0.contains("/ping?before") })
        try FileManager.default.moveItem(at: log, to: rotated)
        process.signal(SIGHUP)
        XCTAssertNotNil(waitForLine(in: log) { $0.contains("log file reopened") }, "SIGHUP did not open a new log file")
        try ping("after")
        XCTAssertNotNil(waitForLine(in: log) { $0.contains("/ping?after") })
        let old = try String(contentsOf: rotated, encoding: .utf8)
        XCTAssertTrue(old.contains("/ping?before") && !old.contains("/ping?after"), old)
        XCTAssertTrue(process.isRunning, "SIGHUP stopped the server")
    }
}

/// The access log says what was sent: `bytes` written of the body and whether the response
/// completed. It logged the Content-Length, even for a client that left after 64 KiB.
final class AccessLogTests: XCTestCase {
    func testBytesSentAndCompletion() async throws {
        let server = try ServerProcess(["--trust-network", "127.0.0.1/32"])
        try server.start()
        defer { server.stop() }
        let uuid = "72000000-0000-4000-8000-000000000001"
        let file = Fixture.bytes(16 * 1024 * 1024)
        try await TestClient(server).publish(uuid, file: file)
        let path = "/images/\(uuid)/file"
        let whole = try await TestClient(server).get(path)
        XCTAssertEqual(whole.body.count, file.count)
        XCTAssertTrue(server.waitForLogLine {
            $0.contains("\"url\":\"\(path)\"") && $0.contains("\"bytes\":\(file.count)") && $0.contains("\"complete\":true")
        }, "the complete download was not logged with its size")

        let connection = try RawConnection(port: server.port, receiveBuffer: 65536)
        XCTAssertTrue(connection.send("GET \(path)?partial HTTP/1.1\r\nHost: x\r\n\r\n"))
        XCTAssertFalse(connection.receive(upTo: 65536).isEmpty)
        connection.close()
        XCTAssertTrue(server.waitForLogLine { $0.contains("?partial") && $0.contains("\"complete\":false") },
                      "a download the client left was not logged as incomplete")
        let line = try XCTUnwrap(server.logLines.first { $0.contains("?partial") })
        let bytes = try XCTUnwrap(line.range(of: "\"bytes\":").flatMap { Int(line[$0.upperBound...].prefix { $0.isNumber }) })
        XCTAssertLessThan(bytes, file.count, line)

        // A failure's description reaches the log line, and only the log line.
        let missing = try await TestClient(server).get("/images/72000000-0000-4000-8000-0000000000ff")
        XCTAssertEqual(missing.status, 404)
        XCTAssertNil(missing.header("imgapid-log-error"))
        XCTAssertTrue(server.waitForLogLine {
            $0.contains("0000000000ff") && $0.contains("\"error\":\"ResourceNotFound: image 72000000")
        })
    }
}
