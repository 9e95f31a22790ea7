import Foundation
import Hummingbird
import IMGAPI
import ImageStore
import NIOCore
import Synchronization

extension Endpoints {
    /// `GET /metrics`: the Prometheus text exposition (`ServerMetrics`).
    func metricsExposition() async throws -> Response {
        let text = try await metrics.exposition(repository)
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(bytes: text)))
    }

    /// `GET /ready`: 200 when the catalog can be read and written and the storage has room
    /// (`readyMinFreeMB`), else 503 with the problems; either way with the scrub's state.
    func readiness() async -> Response {
        var problems: [String] = []
        do { try await repository.catalog.probeRead() } catch {
            problems.append("the catalog cannot be read: \(error)")
        }
        if let problem = await writeProbe.problem(repository.catalog, within: .seconds(5)) { problems.append(problem) }
        let live = settings.configuration
        let minimum = Int64(live.readyMinFreeMB) * 1_000_000
        let free = repository.blobs.freeBytes()
        if let free, free < minimum {
            problems.append("the storage has \(free / 1_000_000) MB free, less than readyMinFreeMB (\(live.readyMinFreeMB)): free some space or add disk")
        } else if free == nil {
            problems.append("the free space of the storage directory cannot be read")
        }
        let quarantined = (try? await repository.catalog.quarantinedFileCount()).map { JSONValue.number(Double($0)) } ?? .null
        var scrub = metrics.scrub.json.objectValue ?? JSONObject()
        scrub["scheduled"] = .bool(live.scrubInterval > 0)
        let body = JSONObject([
            ("ready", .bool(problems.isEmpty)),
            ("problems", .array(problems.map(JSONValue.string))),
            ("freeBytes", free.map { .number(Double($0)) } ?? .null),
            ("minFreeBytes", .number(Double(minimum))),
            ("quarantinedFiles", quarantined),
            ("scrub", .object(scrub)),
        ])
        return .json(.object(body), status: problems.isEmpty ? .ok : .serviceUnavailable)
    }
}

/// Whether the catalog takes its write lock within a deadline. One probe runs at a time: a
/// probe stuck behind a hung disk is waited for again, not stacked up by every poll.
final class CatalogWriteProbe: Sendable {
    private let running = Mutex<Task<String?, Never>?>(nil)

    /// nil when a write could go through now, else why not.
    func problem(_ catalog: Catalog, within deadline: Duration) async -> String? {
        let probe = running.withLock { running in
            if let running { return running }
            let started = Task<String?, Never> { [self] in
                defer { self.running.withLock { $0 = nil } }
                do { try await catalog.probeWrite() } catch { return "the catalog cannot be written: \(error)" }
                return nil
            }
            running = started
            return started
        }
        let answer = FirstAnswer<String?>()
        return await withCheckedContinuation { continuation in
            answer.waiting(continuation)
            Task { answer.give(await probe.value) }
            Task {
                try? await Task.sleep(for: deadline)
                answer.give("the catalog did not take a write within \(deadline): the disk may be hung or overloaded")
            }
        }
    }
}

/// A continuation resumed by the first of several answers.
private final class FirstAnswer<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<Value, Never>?

    func waiting(_ continuation: CheckedContinuation<Value, Never>) {
        lock.withLock { self.continuation = continuation }
    }

    func give(_ value: Value) {
        lock.withLock {
            continuation?.resume(returning: value)
            continuation = nil
        }
    }
}
