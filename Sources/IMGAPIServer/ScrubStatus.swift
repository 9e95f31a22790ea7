import Foundation
import IMGAPI
import ImageStore
import Prometheus
import Synchronization

/// The background scrub as `/ready` and `/metrics` show it: whether one runs and how far it
/// got, and what the last one found. `ScrubScheduler` reports to it.
final class ScrubStatus: Sendable {
    private struct State {
        var running = false
        var done = 0
        var total = 0
        var bytes: Int64 = 0
        var lastEnded: Date?
        var lastResult: String?
        var lastReport: Scrub.Report?
    }

    private let state = Mutex(State())
    private let runningGauge: Gauge
    private let progress: Gauge
    private let filesRead: Counter
    private let bytesRead: Counter
    private let quarantined: Counter
    private let lastCompleted: Gauge
    private let runs: [String: Counter]

    init(registry: PrometheusCollectorRegistry) {
        func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(namespace: "imgapi", subsystem: "scrub", metricName: metric, unitName: unit, helpText: help)
        }
        runningGauge = registry.makeGauge(descriptor: name("running", "", "1 while a background scrub runs."))
        progress = registry.makeGauge(descriptor: name("progress", "ratio", "Share of the files the running scrub has read (1 when none runs)."))
        progress.set(to: 1)
        filesRead = registry.makeCounter(descriptor: name("files_read", "total", "Stored files background scrubs went through."))
        bytesRead = registry.makeCounter(descriptor: name("read", "bytes_total", "Bytes background scrubs read."))
        quarantined = registry.makeCounter(descriptor: name("quarantined_files", "total", "Files background scrubs found bad and quarantined."))
        lastCompleted = registry.makeGauge(descriptor: name("last_completed", "timestamp_seconds", "When the last background scrub ended (Unix time)."))
        let result = name("runs", "total", "Background scrubs, by result: clean, problems (some file is quarantined), failed.")
        runs = Dictionary(uniqueKeysWithValues: ["clean", "problems", "failed"].map {
            ($0, registry.makeCounter(descriptor: result, labels: [("result", $0)]))
        })
    }

    /// The catalog's record of the last scrub's end, known at start.
    func restore(lastEnded: Date) {
        state.withLock { if $0.lastEnded == nil { $0.lastEnded = lastEnded } }
        lastCompleted.set(to: lastEnded.timeIntervalSince1970)
    }

    func started() {
        state.withLock { $0 = State(running: true, lastEnded: $0.lastEnded, lastResult: $0.lastResult, lastReport: $0.lastReport) }
        runningGauge.set(to: 1)
        progress.set(to: 0)
    }

    /// After each file: files done and in all, and bytes read so far (`Scrub.Progress`).
    func advanced(done: Int, total: Int, bytes: Int64) {
        let added = state.withLock { state in
            defer { (state.done, state.total, state.bytes) = (done, total, bytes) }
            return bytes - state.bytes
        }
        filesRead.increment()
        bytesRead.increment(by: added)
        progress.set(to: total == 0 ? 1 : Double(done) / Double(total))
    }

    /// The scrub ended: with its report, or failed (nil).
    func ended(_ report: Scrub.Report?) {
        let now = Date()
        let result = report.map { $0.clean ? "clean" : "problems" } ?? "failed"
        state.withLock {
            $0.running = false
            $0.lastEnded = now
            $0.lastResult = result
            if report != nil { $0.lastReport = report }
        }
        runs[result]?.increment()
        if let report { quarantined.increment(by: Int64(report.quarantined)) }
        runningGauge.set(to: 0)
        progress.set(to: 1)
        lastCompleted.set(to: now.timeIntervalSince1970)
    }

    /// For `/ready`: the running scrub's progress and the last one's result.
    var json: JSONValue {
        state.withLock { state in
            var object = JSONObject([("running", .bool(state.running))])
            if state.running {
                object["filesDone"] = .number(Double(state.done))
                object["filesTotal"] = .number(Double(state.total))
            }
            object["lastEnded"] = state.lastEnded.map { .string(Timestamp.iso8601(milliseconds: Int64($0.timeIntervalSince1970 * 1000))) } ?? .null
            if let result = state.lastResult { object["lastResult"] = .string(result) }
            if let report = state.lastReport {
                object["lastFiles"] = .number(Double(report.files))
                object["lastQuarantined"] = .number(Double(report.quarantined))
            }
            return .object(object)
        }
    }
}
