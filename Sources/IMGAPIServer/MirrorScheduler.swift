import IMGAPI
import ImageStore
import Mirror
import ServiceLifecycle

/// Runs the configured mirrors in the background of `imgapid serve`, one at a time, each
/// when its interval has passed since its last run (the first runs at start), and logs
/// what each run did (and counts it in `metrics`). Stops with the server.
struct MirrorScheduler: Service {
    let mirrors: [ScheduledMirror]
    let repository: ImageRepository
    let metrics: ServerMetrics
    /// Runs wait while the server is read-only.
    let settings: LiveSettings

    func run() async throws {
        // A run under way when the server stops is cancelled; its partial download is kept.
        await cancelWhenGracefulShutdown { await loop() }
    }

    private func loop() async {
        let clock = ContinuousClock()
        var due = mirrors.map { _ in clock.now }
        while !Task.isCancelled {
            for (index, mirror) in mirrors.enumerated() where due[index] <= clock.now && !Task.isCancelled {
                guard !settings.readOnly else {
                    ServerLog.event("mirror run skipped: the server is read-only", [
                        ("from", .array(mirror.options.sources.map(JSONValue.string))),
                    ])
                    due[index] = clock.now + mirror.interval
                    continue
                }
                let report = await MirrorRun(repository: repository, options: mirror.options).run()
                metrics.mirrored(report)
                log(report, mirror)
                due[index] = clock.now + mirror.interval
            }
            guard let next = due.min() else { return }
            do { try await Task.sleep(until: next, clock: clock) } catch { return }
        }
    }

    private func log(_ report: MirrorRun.Report, _ mirror: ScheduledMirror) {
        var fields: [(String, JSONValue)] = [
            ("from", .array(mirror.options.sources.map(JSONValue.string))), ("ok", .bool(report.succeeded)),
            ("copied", .number(Double(report.count(.copied)))), ("present", .number(Double(report.count(.present)))),
            ("updated", .number(Double(report.count(.updated)))),
            ("failed", .number(Double(report.count(.failed)))), ("pruned", .number(Double(report.count(.pruned)))),
        ]
        let problems = report.outcomes.compactMap { $0.error.map { "\($0)" } } + report.failedSources.map { "\($0.source): \($0.error)" }
        if !problems.isEmpty { fields.append(("errors", .array(problems.prefix(20).map(JSONValue.string)))) }
        ServerLog.event("mirror run", fields)
    }
}
