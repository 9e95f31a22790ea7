import Foundation
import XCTest

/// The log must never stop the server: a closed or unread standard output used to kill it
/// (EPIPE trapped) or block every request once the pipe was full.
final class LogOutputTests: XCTestCase {
    /// `imgapid serve` with standard output on a pipe the test controls, started once its
    /// `listening` line is read; the caller decides what happens to the pipe next.
    final class PipedServer: @unchecked Sendable {
        let process = Process()
        let pipe = Pipe()
        let storage: URL
        var port = 0

        init() throws {
            storage = try ServerProcess.temporaryDirectory()
            process.executableURL = ServerProcess.executable
            process.arguments = ["serve", "--storage", storage.path, "--port", "0"]
            process.standardOutput = pipe
            process.standardError = FileHandle.standardError
            try process.run()
            var text = ""
            let deadline = Date().addingTimeInterval(30)
            while port == 0, Date() < deadline {
                let chunk = pipe.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                text += String(decoding: chunk, as: UTF8.self)
                if let line = text.split(separator: "\n").first(where: { $0.contains("\"msg\":\"listening\"") }),
                   let range = line.range(of: "\"port\":") {
                    port = Int(line[range.upperBound...].prefix { $0.isNumber }) ?? 0
                }
            }
            guard port != 0 else { throw TestFailure("imgapid did not start: \(text)") }
        }

        func ping() throws -> Int? {
            RawHTTP.status(of: try RawHTTP.exchange(port: port, lines: ["GET /ping HTTP/1.1", "Host: x", "Connection: close"]))
        }

        /// SIGTERM, then waits at most `seconds` for the exit; true when it exited.
        func terminate(within seconds: TimeInterval) -> Bool {
            process.terminate()
            let exited = DispatchSemaphore(value: 0)
            DispatchQueue.global().async { self.process.waitUntilExit(); exited.signal() }
            return exited.wait(timeout: .now() + seconds) == .success
        }

        deinit {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            try? FileManager.default.removeItem(at: storage)
        }
    }

    func testClosedStandardOutputDoesNotKillTheServer() throws {
        let server = try PipedServer()
        try server.pipe.fileHandleForReading.close()
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
}
