import XCTest
@testable import ZFSStream

/// Fletcher-4 fed in pieces of every size gives the checksum of the whole.
final class Fletcher4Tests: XCTestCase {
    /// The checksum as ZFS defines it, one word at a time (`bytes.count` a multiple of 4).
    func reference(_ bytes: [UInt8]) -> [UInt64] {
        var (a, b, c, d): (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        for index in stride(from: 0, to: bytes.count, by: 4) {
            let word = (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[index + $1]) << (8 * $1) }
            a &+= UInt64(word); b &+= a; c &+= b; d &+= c
        }
        return [a, b, c, d]
    }

    func testPiecesOfAnySizeGiveTheChecksumOfTheWhole() {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<40_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let expected = reference(bytes)
        XCTAssertNotEqual(expected, [0, 0, 0, 0])
        for maximum in [1, 2, 3, 5, 7, 4096, 40_000] {
            var checksum = Fletcher4()
            var offset = 0
            while offset < bytes.count {
                let take = min(Int.random(in: 1...maximum), bytes.count - offset)
                bytes[offset..<(offset + take)].withUnsafeBytes { checksum.update($0) }
                offset += take
            }
            XCTAssertEqual(checksum.value, expected, "pieces of up to \(maximum) bytes")
        }
    }

    /// Runs longer than one lane pass (2¹⁶ words), whole and in uneven pieces.
    func testLongRunsGiveTheChecksumOfTheWhole() {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<(1 << 20) + 13).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let expected = reference(Array(bytes.prefix(bytes.count & ~3)))
        for pieces in [[bytes.count], [3, 300_001, 262_144 * 2 + 5], [262_147, 262_141]] {
            var checksum = Fletcher4()
            var offset = 0
            for piece in pieces + [bytes.count] where offset < bytes.count {
                let take = min(piece, bytes.count - offset)
                bytes[offset..<(offset + take)].withUnsafeBytes { checksum.update($0) }
                offset += take
            }
            XCTAssertEqual(checksum.value, expected, "pieces \(pieces)")
        }
    }
}
