import Foundation
import HTTPSignature
import IMGAPI
import XCTest

/// kill -9 at random moments during concurrent publishes and deletes, then restart and
/// check what was acknowledged: every acknowledged publish is there, active and verified;
/// every acknowledged delete is gone; every listed image's file is whole; and once stopped,
/// `imgapid check` finds no orphan, leftover or missing file. `IMGAPID_CRASH_ROUNDS`
/// (default 3) sets how many crashes one run makes.
final class CrashTests: XCTestCase {
    /// What clients were told, across every round.
    actor Ledger {
        var published: [String: [UInt8]] = [:]
        var deleted = Set<String>()
        /// Deletes sent without an answer: the image may be there or not.
        var unsure = Set<String>()

        func acknowledge(_ uuid: String, _ bytes: [UInt8]) { published[uuid] = bytes }
        func deleting(_ uuid: String) -> Bool { unsure.insert(uuid).inserted }
        func acknowledgeDelete(_ uuid: String) {
            unsure.remove(uuid)
            deleted.insert(uuid)
            published[uuid] = nil
        }
        func anyPublished(_ pick: Int) -> String? {
            let candidates = published.keys.filter { !unsure.contains($0) }.sorted()
            return candidates.isEmpty ? nil : candidates[pick % candidates.count]
        }
        func certain() -> (published: [String: [UInt8]], deleted: Set<String>) {
            (published.filter { !unsure.contains($0.key) }, deleted)
        }
    }

    /// A small reproducible random source (xorshift), seeded per run and printed.
    struct Dice {
        var state: UInt64
        mutating func next(_ bound: Int) -> Int {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return Int(state % UInt64(bound))
        }
    }

    func testAcknowledgedWorkSurvivesKillNine() async throws {
        let rounds = Int(ProcessInfo.processInfo.environment["IMGAPID_CRASH_ROUNDS"] ?? "") ?? 3
        let seed = UInt64(Date().timeIntervalSince1970 * 1000) | 1
        print("CrashTests seed \(seed), \(rounds) rounds")
        var dice = Dice(state: seed)
        let ledger = Ledger()
        var server = try ServerProcess(["--trust-network", "127.0.0.1/32"])
        try server.start()
        let admin = try server.signedClient()
        for round in 0..<rounds {
            let client = TestClient(server)
            let workers = (0..<4).map { worker in
                let start = dice.next(1_000_000)
                return Task { await Self.work(client, ledger, prefix: String(format: "%02x%02x", round, worker), pick: start) }
            }
            try await Task.sleep(for: .milliseconds(150 + dice.next(600)))
            server.kill()
            for worker in workers { await worker.value }
            server = try server.restarted()
            try await verify(server, admin: admin.signer, ledger, round: round)
        }
        server.stop()
        let check = try ServerProcess.run(["check", "--storage", server.storage.path])
        XCTAssertEqual(check.status, 0, "after \(rounds) crashes (seed \(seed)): \(check.output)")
        let published = await ledger.published.count
        XCTAssertGreaterThan(published, 0, "no publish was acknowledged: the test tested nothing")
    }

    /// Publishes new images (import, file, activate) and now and then deletes an
    /// acknowledged one, until the server is gone.
    static func work(_ client: TestClient, _ ledger: Ledger, prefix: String, pick: Int) async {
        for index in 0..<10_000 {
            do {
                if index % 3 == 2, let victim = await ledger.anyPublished(pick + index), await ledger.deleting(victim) {
                    let deleted = try await client.request(.DELETE, "/images/\(victim)")
                    if deleted.status == 204 { await ledger.acknowledgeDelete(victim) }
                    continue
                }
                let uuid = "c7a5\(prefix)-0000-4000-8000-\(String(format: "%012d", index))"
                let bytes = Fixture.bytes(20_000 + index % 7 * 3000, seed: UInt64(pick + index))
                let manifest = Fixture.manifest(uuid: uuid)
                guard try await client.postJSON("/images/\(uuid)?action=import", manifest).status == 200,
                      try await client.putFile(uuid, bytes, query: "compression=gzip").status == 200,
                      try await client.postJSON("/images/\(uuid)?action=activate", "{}").status == 200 else { continue }
                await ledger.acknowledge(uuid, bytes)
            } catch {
                return  // the server is gone
            }
        }
    }

    func verify(_ server: ServerProcess, admin signer: RequestSigner?, _ ledger: Ledger, round: Int) async throws {
        let (published, deleted) = await ledger.certain()
        let client = TestClient(server)
        for (uuid, bytes) in published {
            let image = try await client.get("/images/\(uuid)")
            XCTAssertEqual(image.status, 200, "round \(round): acknowledged publish \(uuid) is gone")
            XCTAssertEqual(try? image.object()["state"], .string("active"), uuid)
            let download = try await client.get("/images/\(uuid)/file")
            XCTAssertEqual(download.body, bytes, "round \(round): the file of \(uuid)")
        }
        for uuid in deleted {
            let gone = try await client.get("/images/\(uuid)")
            XCTAssertEqual(gone.status, 404, "round \(round): acknowledged delete of \(uuid) came back")
        }
        let admin = TestClient(server, signer: signer)
        let everything = try await admin.get("/images?state=all").json().arrayValue ?? []
        for image in everything.compactMap(\.objectValue) where image["state"] == .string("active") {
            let uuid = image["uuid"]?.stringValue ?? ""
            let sha1 = image["files"]?.arrayValue?.first?.objectValue?["sha1"]?.stringValue
            let download = try await client.get("/images/\(uuid)/file")
            XCTAssertEqual(download.status, 200, "round \(round): listed image \(uuid) has no whole file")
            XCTAssertEqual(Fixture.sha1(download.body), sha1, "round \(round): \(uuid)")
        }
    }
}
