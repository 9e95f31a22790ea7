import Foundation
import ImageStore
import NIOCore
import NIOFileSystem
import XCTest

/// Downloads read their file a slice at a time, with nothing read ahead.
final class FileSlicesTests: XCTestCase {
    func testSlicesReadOnlyWhenAskedFor() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("slices-\(UUID().uuidString)").path
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        let original = (0..<10_000).map { UInt8(truncatingIfNeeded: $0) }
        try Data(original).write(to: URL(fileURLWithPath: path))
        let received = try await FileSystem.shared.withFileHandle(forReadingAt: FilePath(path)) { handle in
            var received: [[UInt8]] = []
            var slices = FileSlices(handle, in: 1_000..<9_500, length: .bytes(3_000)).makeAsyncIterator()
            received.append(try await slices.next().map { Array($0.readableBytesView) } ?? [])
            // Changed after the first slice was taken: a reader that had read ahead would
            // send the old bytes.
            let changed = FileHandle(forWritingAtPath: path)!
            try changed.seek(toOffset: 4_000)
            try changed.write(contentsOf: Data(repeating: 0xAA, count: 3_000))
            try changed.close()
            while let slice = try await slices.next() { received.append(Array(slice.readableBytesView)) }
            return received
        }
        XCTAssertEqual(received.map(\.count), [3_000, 3_000, 2_500])
        XCTAssertEqual(received[0], Array(original[1_000..<4_000]))
        XCTAssertEqual(received[1], [UInt8](repeating: 0xAA, count: 3_000))
        XCTAssertEqual(received[2], Array(original[7_000..<9_500]))
    }

    func testSlicesStopWhereTheFileEnds() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("slices-\(UUID().uuidString)").path
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        try Data(repeating: 7, count: 2_500).write(to: URL(fileURLWithPath: path))
        let total = try await FileSystem.shared.withFileHandle(forReadingAt: FilePath(path)) { handle in
            var total = 0
            for try await slice in FileSlices(handle, in: 0..<10_000, length: .bytes(1_000)) { total += slice.readableBytes }
            return total
        }
        XCTAssertEqual(total, 2_500, "a file shorter than the range ends the slices; the sender sees it cut short")
    }
}
