import Foundation
import XCTest

extension ServerProcess {
    /// Number of image rows in the real catalog, read with the `sqlite3` tool (or `psql`).
    func catalogImageCount() throws -> Int {
        if let catalog { return Int(try TestPostgres.query("SELECT count(*) FROM image", at: catalog)) ?? -1 }
        let (status, output) = try ChildProcess.run("/usr/bin/sqlite3", [
            "-readonly", storage.appendingPathComponent("catalog.sqlite").path, "SELECT count(*) FROM image",
        ], timeout: 60)
        let text = output.trimmingCharacters(in: .whitespacesAndNewlines)
        guard status == 0, let count = Int(text) else { throw TestFailure("sqlite3 could not count images: \(text)") }
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
