import Foundation
import XCTest
@testable import ZFSStream

/// gzip data as `gzip -d` reads it: every member's CRC-32 and length checked, members one
/// after another decompressed as one, and nothing but gzip accepted.
final class GzipDecompressorTests: XCTestCase {
    /// `bytes` through `gzip -c`.
    func gzip(_ bytes: [UInt8]) throws -> [UInt8] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/gzip")
        process.arguments = ["-c"]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        let writer = Thread { input.fileHandleForWriting.write(Data(bytes)); try? input.fileHandleForWriting.close() }
        writer.start()
        let compressed = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        return Array(compressed)
    }

    /// Decompresses `bytes` fed in pieces of at most `piece` bytes.
    func decompress(_ bytes: [UInt8], piece: Int = 65_536) throws -> [UInt8] {
        let decompressor = try GzipDecompressor()
        var out: [UInt8] = []
        var offset = 0
        while offset < bytes.count {
            let take = min(Int.random(in: 1...piece), bytes.count - offset)
            try bytes[offset..<(offset + take)].withUnsafeBytes { try decompressor.feed($0) { out += $0 } }
            offset += take
        }
        try decompressor.finish { out += $0 }
        return out
    }

    func expectRefused(_ bytes: [UInt8], _ words: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try decompress(bytes), file: file, line: line) { error in
            XCTAssertTrue("\(error)".contains(words), "\(error)", file: file, line: line)
        }
    }

    let text = Array((0..<300_000).map { "line \($0)\n" }.joined().utf8)

    func testMembersInPiecesOfAnySizeGiveTheWhole() throws {
        let first = try gzip(Array(text.prefix(100_000))), second = try gzip(Array(text.dropFirst(100_000)))
        for piece in [1, 3, 7, 4096, 1 << 20] {
            XCTAssertEqual(try decompress(first + second, piece: piece), text, "pieces of up to \(piece) bytes")
        }
    }

    func testADamagedTrailerIsRefused() throws {
        let good = try gzip(text)
        var badCRC = good
        badCRC[badCRC.count - 8] ^= 0x01
        expectRefused(badCRC, "does not match the CRC-32 and length it carries")
        var badLength = good
        badLength[badLength.count - 1] ^= 0x01
        expectRefused(badLength, "does not match the CRC-32 and length it carries")
        // The second member's trailer is checked too.
        expectRefused(good + badCRC, "does not match the CRC-32 and length it carries")
    }

    func testZlibDataAndCutShortDataAreRefused() throws {
        // "hello" in zlib's own format (a 2-byte header, one stored block, Adler-32), which
        // `gzip -d` cannot read either.
        let zlib: [UInt8] = [0x78, 0x01, 0x01, 0x05, 0x00, 0xFA, 0xFF] + Array("hello".utf8) + [0x06, 0x2C, 0x02, 0x15]
        expectRefused(zlib, "not valid gzip data")
        expectRefused(Array(try gzip(text).dropLast(4)), "cut short")
        expectRefused([], "empty")
    }
}
