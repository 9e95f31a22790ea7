import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Bytes written straight to a TCP socket: for requests no well-behaved client library
/// would send (unnormalised paths, bodies shorter than announced, garbage).
enum RawHTTP {
    /// Sends `request`, half-closes the connection, and returns everything the server wrote
    /// until it closed the connection or `timeout` passed.
    static func exchange(port: Int, _ request: [UInt8], timeout: TimeInterval = 10) throws -> String {
        try exchange(port: port, request, timeout: timeout, halfClose: true).response
    }

    /// Sends `request`, half-closing the connection only when `halfClose`, and reads until the
    /// server closes it (`closedByServer`) or `timeout` passes.
    static func exchange(port: Int, _ request: [UInt8], timeout: TimeInterval,
                         halfClose: Bool) throws -> (response: String, closedByServer: Bool) {
        let connection = try RawConnection(port: port, timeout: timeout)
        guard connection.send(request) else { throw TestFailure("short write") }
        if halfClose { connection.halfClose() }
        let (response, closedByServer) = connection.receiveAll()
        return (String(decoding: response, as: UTF8.self), closedByServer)
    }

    /// `exchange` for a request written as text (CRLF line ends added).
    static func exchange(port: Int, lines: [String], body: String = "") throws -> String {
        try exchange(port: port, Array((lines.joined(separator: "\r\n") + "\r\n\r\n" + body).utf8))
    }

    /// The status code of the first response in `response`, if any.
    static func status(of response: String) -> Int? {
        let parts = response.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1.") else { return nil }
        return Int(parts[1])
    }
}
