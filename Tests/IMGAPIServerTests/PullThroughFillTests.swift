import Foundation
import IMGAPI
import AsyncHTTPClient
import NIOCore
import XCTest

/// Files of images only upstream, filled on demand: one download for many first requests,
/// the origin chain with it, bytes streamed as they arrive, and failures that store nothing.
extension PullThroughTests {
    /// Six imgadm-shaped first requests at once for an image whose origin is not here: the
    /// upstream sends each file once, every client gets the published bytes, and the image
    /// then behaves as a mirrored one: served while the upstream is gone.
    func testConcurrentFirstRequestsShareOneDownloadWithTheOriginChain() async throws {
        let baseFile = Fixture.bytes(1_500_000, seed: 11), childFile = Fixture.bytes(6_000_000, seed: 12)
        try await up.publish(base, name: "base", extra: #""published_at": "2030-01-01T00:00:00Z""#, file: baseFile)
        try await up.publish(child, name: "child", extra: "\"origin\": \"\(base)\", \"published_at\": \"2030-01-02T00:00:00Z\"",
                             file: childFile)
        let gif = Array("GIF89a".utf8) + Fixture.bytes(200, seed: 13)
        expect(try await up.request(.PUT, "/images/\(child)/icon", headers: [("Content-Type", "image/gif")], body: gif), status: 200)
        let client = try startCache([upstream.baseURL])
        let shown = try await client.get("/images/\(child)", headers: imgadm)
        expect(shown, status: 200)
        XCTAssertEqual(try shown.object()["icon"], .bool(true))
        let passedThrough = try await client.get("/images/\(child)/icon")
        expect(passedThrough, status: 200)
        XCTAssertEqual(passedThrough.body, gif, "the icon of an image not yet fetched comes from the upstream")

        let (headers, path) = (imgadm, "/images/\(child)/file")
        async let ranged = client.get(path, headers: headers + [("Range", "bytes=4000000-4000099")])
        let bodies = try await withThrowingTaskGroup(of: HTTPResult.self) { group in
            for _ in 0..<5 { group.addTask { try await client.get(path, headers: headers) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let part = try await ranged
        expect(part, status: 206)
        XCTAssertEqual(part.body, Array(childFile[4_000_000..<4_000_100]), "a range of a file being fetched")
        XCTAssertEqual(part.header("Content-Range"), "bytes 4000000-4000099/\(childFile.count)")
        for body in bodies {
            expect(body, status: 200)
            XCTAssertEqual(body.header("ETag"), Fixture.sha1(childFile))
            XCTAssertTrue(body.body == childFile, "every client gets the published bytes")
        }
        let childDownloads = try await upstreamFileRequests(child)
        let baseDownloads = try await upstreamFileRequests(base)
        XCTAssertEqual(childDownloads.count, 1, childDownloads.joined(separator: "\n"))
        XCTAssertEqual(baseDownloads.count, 1, "the origin came along, once")

        let scraped = try PrometheusText.parse(try await client.get("/metrics").text)
        XCTAssertEqual(scraped.value("imgapi_cache_misses_total"), 6)
        XCTAssertEqual(scraped.value("imgapi_cache_fetched_bytes_total"), Double(baseFile.count + childFile.count))

        upstream.stop()
        let stored = try await client.get("/images/\(child)/file", headers: imgadm)
        expect(stored, status: 200)
        XCTAssertTrue(stored.body == childFile)
        XCTAssertEqual(stored.header("Content-MD5"), Fixture.md5Base64(childFile), "a stored file's headers")
        let origin = try await client.get("/images/\(base)/file", headers: imgadm)
        XCTAssertTrue(origin.body == baseFile)
        let again = try PrometheusText.parse(try await client.get("/metrics").text)
        XCTAssertEqual(again.value("imgapi_cache_hits_total"), 2)
        let manifest = try await client.get("/images/\(child)", headers: imgadm)
        XCTAssertEqual(try manifest.object()["origin"]?.stringValue, base)
        let storedIcon = try await client.get("/images/\(child)/icon")
        XCTAssertEqual(storedIcon.body, gif, "the icon was stored with the image")
        XCTAssertEqual(try cache?.catalogImageCount(), 2)
    }

    /// The upstream dies mid-file (a relay stops its answer at a known byte): the client's
    /// transfer breaks off and nothing is stored; while it is down a request fails at once
    /// with 503; once it is back, the fill asks only for the rest of the file.
    func testUpstreamKilledMidFileAndRestarted() async throws {
        let file = Fixture.bytes(5_000_000, seed: 21)
        try await up.publish(base, name: "big", file: file)
        let relay = try GatedRelay(to: upstream.port, passing: 2_000_000)
        defer { relay.stop() }
        let client = try startCache([relay.baseURL])
        var request = HTTPClientRequest(url: client.baseURL + "/images/\(base)/file")
        for (name, value) in imgadm { request.headers.add(name: name, value: value) }
        let response = try await TestClient.http.execute(request, timeout: .seconds(60))
        XCTAssertEqual(response.status, .ok)
        // Bytes reach the client while the upstream's answer is held at the relay's limit.
        var received = 0
        var body = response.body.makeAsyncIterator()
        while received < 1_000_000, let chunk = try await body.next() { received += chunk.readableBytes }
        XCTAssertGreaterThanOrEqual(received, 1_000_000, "the first bytes arrived before the file was whole")
        let deadline = Date().addingTimeInterval(30)
        while relay.heldConnections == 0, Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        XCTAssertEqual(relay.heldConnections, 1, "the file's answer is held at the relay's limit")
        upstream.kill()
        relay.cut()
        do {
            while let chunk = try await body.next() { received += chunk.readableBytes }
            XCTFail("a transfer cut short ended cleanly after \(received) bytes")
        } catch {
            XCTAssertLessThan(received, file.count, "a transfer cut short is not a whole file")
        }
        let kept = try XCTUnwrap(cache?.files(under: "partial").first.map { cache!.storage.appendingPathComponent("partial/\($0)") })
        let keptBytes = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: kept.path)[.size] as? Int)
        XCTAssertTrue((1..<file.count).contains(keptBytes), "kept \(keptBytes) bytes for the next attempt")
        XCTAssertEqual(try cache?.catalogImageCount(), 0, "nothing stored")

        let started = Date()
        let refused = try await client.get("/images/\(base)/file", headers: imgadm)
        expect(refused, status: 503)
        XCTAssertEqual(try refused.object()["code"]?.stringValue, "RemoteSourceError")
        XCTAssertLessThan(Date().timeIntervalSince(started), 10, "refused quickly, not hung")

        upstream = try upstream.restarted()
        relay.targetPort = upstream.port
        relay.limit = .max
        let resumed = try await client.get("/images/\(base)/file", headers: imgadm)
        expect(resumed, status: 200)
        XCTAssertTrue(resumed.body == file, "the resumed file is the published one")
        let requests = try await upstreamFileRequests(base)
        XCTAssertEqual(requests.count, 1, requests.joined(separator: "\n"))
        XCTAssertTrue(requests.first?.contains("\"status\":206") == true, "only the rest was asked for: \(requests)")
        XCTAssertTrue(requests.first?.contains("\"bytes\":\(file.count - keptBytes)") == true, "\(requests)")
    }

    /// The upstream stops answering: listings keep its last catalog and say so in a header,
    /// a cached file is still served, and a file not cached fails with 503 at once.
    func testStoppedUpstreamListsStaleCatalogAndRefusesUncachedFiles() async throws {
        try await up.publish(base, name: "cached", file: Fixture.bytes(50_000, seed: 31))
        try await up.publish(child, name: "not-cached", file: Fixture.bytes(50_000, seed: 32))
        let client = try startCache([upstream.baseURL], ttl: 1)
        expect(try await client.get("/images/\(base)/file", headers: imgadm), status: 200)
        upstream.stop()

        var stale: HTTPResult?
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            let listing = try await client.get("/images", headers: imgadm)
            if listing.header("Upstream-Stale") != nil { stale = listing; break }
            try await Task.sleep(for: .milliseconds(200))
        }
        let listing = try XCTUnwrap(stale, "a listing said the upstream's catalog is stale")
        XCTAssertEqual(try uuids(listing).sorted(), [base, child], "the last good catalog is listed")
        let note = try XCTUnwrap(listing.header("Upstream-Stale"))
        XCTAssertTrue(note.contains(upstream.baseURL) && note.contains("listing from"), note)
        let manifest = try await client.get("/images/\(child)", headers: imgadm)
        expect(manifest, status: 200)
        XCTAssertNotNil(manifest.header("Upstream-Stale"), "GetImage says so too")
        XCTAssertTrue(cache?.waitForLogLine { $0.contains("upstream catalog fetch failed") } == true)

        expect(try await client.get("/images/\(base)/file", headers: imgadm), status: 200)
        let started = Date()
        let refused = try await client.get("/images/\(child)/file", headers: imgadm)
        expect(refused, status: 503)
        XCTAssertTrue(refused.text.contains(upstream.baseURL), refused.text)
        XCTAssertLessThan(Date().timeIntervalSince(started), 10)
        let scraped = try PrometheusText.parse(try await client.get("/metrics").text)
        XCTAssertGreaterThanOrEqual(scraped.value("imgapi_upstream_errors_total") ?? 0, 2)

        // A restart while the upstream is still down lists the catalog kept from the last run.
        let stopped = try XCTUnwrap(cache)
        stopped.stop()
        let restarted = try stopped.restarted()
        cache = restarted
        let again = try await TestClient(restarted).get("/images", headers: imgadm)
        XCTAssertEqual(try uuids(again).sorted(), [base, child], "the kept catalog is listed after a restart")
        XCTAssertNotNil(again.header("Upstream-Stale"))
        expect(try await TestClient(restarted).get("/images/\(base)/file", headers: imgadm), status: 200)
    }

    /// An upstream whose file is not the one its manifest describes: the client's transfer
    /// is aborted at the end, and no image, file or kept byte is left.
    func testFileThatFailsVerificationIsAbortedAndNothingStored() async throws {
        let promised = Fixture.bytes(400_000, seed: 41)
        var sent = promised
        sent[300_000] ^= 0xFF
        let manifest = Fixture.manifest(uuid: base, extra: """
            "state": "active", "published_at": "2030-01-01T00:00:00Z",
            "files": [{"sha1": "\(Fixture.sha1(promised))", "size": \(promised.count), "compression": "gzip"}]
            """)
        let (served, uuid) = (sent, base)
        let liar = try ScriptedUpstream { _, uri in
            if uri.hasPrefix("/images/\(uuid)/file") { return .bytes(served) }
            if uri.hasPrefix("/images/\(uuid)") { return .json(status: 200, manifest) }
            if uri.hasPrefix("/images") { return .json(status: 200, "[\(manifest)]") }
            return .json(status: 404, #"{"code": "ResourceNotFound", "message": "no"}"#)
        }
        defer { liar.stop() }
        let client = try startCache([liar.baseURL])
        // A broken connection throws; an answer that arrives must not be the whole file.
        if let result = try? await client.get("/images/\(base)/file", headers: imgadm) {
            XCTAssertFalse(result.status == 200 && result.body.count == promised.count, "the transfer was aborted")
        }
        XCTAssertTrue(cache?.waitForLogLine { $0.contains("cache fill failed") } == true)
        try cache?.assertStored(images: 0, blobs: 0)
        XCTAssertEqual(cache?.files(under: "partial"), [])
    }
}

extension PullThroughTests {
    /// Over `cacheMaxBytes`, cached images go least recently used first, but never an
    /// origin a cached image still needs, nor a locally published image.
    func testEvictsLeastRecentlyUsedButKeepsOriginsAndLocalImages() async throws {
        let size = 1_000_000
        try await up.publish(base, name: "base", extra: #""published_at": "2030-01-01T00:00:00Z""#, file: Fixture.bytes(size, seed: 51))
        try await up.publish(child, name: "child", extra: "\"origin\": \"\(base)\", \"published_at\": \"2030-01-02T00:00:00Z\"",
                             file: Fixture.bytes(size, seed: 52))
        try await up.publish(other, name: "other", extra: #""published_at": "2030-01-03T00:00:00Z""#, file: Fixture.bytes(size, seed: 53))
        try await up.publish(fourth, name: "fourth", extra: #""published_at": "2030-01-04T00:00:00Z""#, file: Fixture.bytes(size, seed: 54))
        let client = try startCache([upstream.baseURL], extra: "\"cacheMaxBytes\": 2500000")
        let local = "c1000000-0000-4000-8000-0000000000aa"
        try await client.publish(local, name: "local", file: Fixture.bytes(size, seed: 55))
        let server = try XCTUnwrap(cache)
        func evicted() -> [String] {
            server.logLines.filter { $0.contains("\"msg\":\"cached image evicted\"") }.compactMap { line in
                [base, child, other, fourth, local].first { line.contains($0) }
            }
        }

        expect(try await client.get("/images/\(child)/file", headers: imgadm), status: 200)  // base and child: 2 MB
        expect(try await client.get("/images/\(other)/file", headers: imgadm), status: 200)  // 3 MB
        XCTAssertTrue(server.waitForLogLine { $0.contains("\"msg\":\"cached image evicted\"") })
        XCTAssertEqual(evicted(), [child], "the base is an origin of the cached child: the child goes first")

        expect(try await client.get("/images/\(base)/file", headers: imgadm), status: 200)  // used after `other`
        expect(try await client.get("/images/\(fourth)/file", headers: imgadm), status: 200)  // 3 MB again
        XCTAssertTrue(server.waitForLogLine(count: 2) { $0.contains("\"msg\":\"cached image evicted\"") })
        XCTAssertEqual(evicted(), [child, other], "the least recently used goes, not the oldest fill")
        XCTAssertEqual(try server.catalogImageCount(), 3, "local, base and fourth stay")
        let stillLocal = try await client.get("/images/\(local)/file", headers: imgadm)
        XCTAssertTrue(stillLocal.body == Fixture.bytes(size, seed: 55))

        // An evicted image is listed still, and filled again on demand.
        let refilled = try await client.get("/images/\(child)/file", headers: imgadm)
        XCTAssertTrue(refilled.body == Fixture.bytes(size, seed: 52))
    }
}

extension PullThroughTests {
    /// Requests for many different images not cached, while their downloads are held: at
    /// most `PullThroughCache.maxFills` downloads start; the next image is refused with a 503
    /// that says to ask again, and nothing waits on it.
    func testFillsAreBounded() async throws {
        let count = 33
        let uuids = (0..<count).map { String(format: "c2000000-0000-4000-8000-%012d", $0) }
        for (index, uuid) in uuids.enumerated() {
            try await up.publish(uuid, name: "many", version: "\(index)", file: Fixture.bytes(200_000, seed: UInt64(index)))
        }
        // The catalog passes; every file's answer is held after its first bytes.
        let relay = try GatedRelay(to: upstream.port, passing: 120_000)
        defer { relay.stop() }
        let client = try startCache([relay.baseURL])
        expect(try await client.get("/images", headers: imgadm), status: 200)
        // A client of its own, with a connection for each request (a pool's usual 8 would queue them).
        var configuration = HTTPClient.Configuration(timeout: .init(connect: .seconds(10), read: .seconds(60)))
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 64)
        let many = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let base = client.baseURL
        let held = Task {
            await withTaskGroup(of: Void.self) { group in
                for uuid in uuids.dropLast() {
                    group.addTask { _ = try? await many.execute(HTTPClientRequest(url: "\(base)/images/\(uuid)/file"), timeout: .seconds(60)) }
                }
            }
        }
        // Every request has started its fill once the cache has counted it.
        var misses = 0.0
        let deadline = Date().addingTimeInterval(30)
        while misses < Double(count - 1), Date() < deadline {
            misses = try PrometheusText.parse(try await client.get("/metrics").text).value("imgapi_cache_misses_total") ?? 0
            if misses < Double(count - 1) { try await Task.sleep(for: .milliseconds(100)) }
        }
        XCTAssertEqual(misses, Double(count - 1))
        let started = Date()
        let refused = try await client.get("/images/\(uuids[count - 1])/file", headers: imgadm)
        expect(refused, status: 503)
        XCTAssertTrue(refused.text.contains("again"), refused.text)
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
        relay.cut()
        relay.limit = .max
        held.cancel()
        try await many.shutdown()
    }
}

extension PullThroughTests {
    /// An image the cache fetched and an operator then mirrors (`imgapid mirror` finds it
    /// present) is a mirrored image from then on: eviction passes it by.
    func testACachedImageThatIsMirroredIsNeverEvicted() async throws {
        let size = 1_000_000
        for (index, uuid) in [base, other, fourth].enumerated() {
            try await up.publish(uuid, name: "image-\(index)", extra: "\"published_at\": \"2030-01-0\(index + 1)T00:00:00Z\"",
                                 file: Fixture.bytes(size, seed: UInt64(60 + index)))
        }
        let client = try startCache([upstream.baseURL], extra: "\"cacheMaxBytes\": 1500000")
        expect(try await client.get("/images/\(base)/file", headers: imgadm), status: 200)
        let first = try XCTUnwrap(cache)
        first.stop()
        let run = try ServerProcess.run(["mirror", "--no-validate-streams", "--from", upstream.baseURL, "--uuid", base, "--json"]
                                        + first.storageOptions)
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertTrue(run.output.contains("\"present\""), run.output)

        let restarted = try first.restarted()
        cache = restarted
        let again = TestClient(restarted)
        expect(try await again.get("/images/\(other)/file", headers: imgadm), status: 200)  // 2 MB: only `other` could go, and it is the last used
        expect(try await again.get("/images/\(fourth)/file", headers: imgadm), status: 200)  // 3 MB
        XCTAssertTrue(restarted.waitForLogLine { $0.contains("\"msg\":\"cached image evicted\"") })
        let evicted = restarted.logLines.filter { $0.contains("\"msg\":\"cached image evicted\"") }
        XCTAssertEqual(evicted.count, 1, evicted.joined(separator: "\n"))
        XCTAssertTrue(evicted.first?.contains(other) == true, "the cached image went, not the mirrored one: \(evicted)")
        upstream.stop()
        let kept = try await again.get("/images/\(base)/file", headers: imgadm)
        XCTAssertTrue(kept.body == Fixture.bytes(size, seed: 60))
    }
}
