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
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw TestFailure("connect() failed") }
        var wait = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        let written = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard written == request.count else { throw TestFailure("short write") }
        if halfClose { shutdown(fd, Int32(SHUT_WR)) }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        var closedByServer = false
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 {
                closedByServer = n == 0
                break
            }
            response += buffer[0..<n]
        }
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
