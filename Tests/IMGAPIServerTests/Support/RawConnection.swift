import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A TCP connection to the server as a plain socket, for clients no library would imitate:
/// ones that stall, drip bytes, read nothing, or come from another loopback address.
final class RawConnection {
    let fd: Int32

    /// Connects to 127.0.0.1:`port` from `source` (any 127.x address works on Linux), with a
    /// small receive buffer when `receiveBuffer` is given, and `timeout` on every receive.
    init(port: Int, source: String? = nil, receiveBuffer: Int32? = nil, timeout: TimeInterval = 10) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket() failed") }
        if var size = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        if let source {
            var local = Self.address(source, port: 0)
            let bound = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0 else { Glibc.close(fd); throw TestFailure("bind(\(source)) failed") }
        }
        var remote = Self.address("127.0.0.1", port: port)
        let connected = withUnsafePointer(to: &remote) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { Glibc.close(fd); throw TestFailure("connect() failed") }
        var wait = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close() }

    /// Closes the socket at once (the server sees a reset if it still had bytes to send).
    func close() {
        guard !closed else { return }
        closed = true
        Glibc.close(fd)
    }

    private var closed = false

    private static func address(_ ip: String, port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr(ip)
        return address
    }

    /// Writes all of `bytes`; false when the server has closed the connection.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        let written = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        return written == bytes.count
    }

    func send(_ text: String) -> Bool { send(Array(text.utf8)) }

    func halfClose() { shutdown(fd, Int32(SHUT_WR)) }

    /// Reads until what came contains `marker` (true), or the connection ends or times out.
    func receive(until marker: String) -> Bool {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !String(decoding: received, as: UTF8.self).contains(marker) {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return false }
            received += buffer[0..<n]
        }
        return true
    }

    /// Reads at most `count` bytes, waiting for the first ones; empty at the end or timeout.
    func receive(upTo count: Int) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return n > 0 ? Array(buffer[0..<n]) : []
    }

    /// Reads until the server closes the connection (`closedByServer`), resets it, or the
    /// receive timeout passes.
    func receiveAll() -> (bytes: [UInt8], closedByServer: Bool) {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return (received, n == 0 || errno == ECONNRESET) }
            received += buffer[0..<n]
        }
    }
}
