import Foundation
import XCTest

extension ServerProcess {
    /// Number of image rows in the real catalog file, read with the `sqlite3` tool.
    func catalogImageCount() throws -> Int {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["sqlite3", "-readonly", storage.appendingPathComponent("catalog.sqlite").path,
                             "SELECT count(*) FROM image"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard process.terminationStatus == 0, let count = Int(text) else {
            throw TestFailure("sqlite3 could not count images: \(text)")
        }
        return count
    }

    /// Asserts the storage holds exactly `images` catalog rows and `blobs` files, and no
    /// upload in progress: what a refused request must leave behind.
    func assertStored(images: Int, blobs: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(try catalogImageCount(), images, "catalog rows", file: file, line: line)
        XCTAssertEqual(files(under: "blobs").count, blobs, "blob files", file: file, line: line)
        XCTAssertEqual(files(under: "uploads"), [], "leftover uploads", file: file, line: line)
    }
}
