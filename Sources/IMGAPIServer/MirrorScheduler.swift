import Foundation
import IMGAPI
import ImageStore
import Mirror
import ServiceLifecycle

/// Runs the configured mirrors (`mirrors`, as in force: SIGHUP may change them) in the
/// background of `imgapid serve`, one at a time, each when its interval has passed since its
/// last run (a new or changed one at once), logs what each run did and counts it in
/// `metrics`. Runs wait while the server is read-only. Stops with the server. Replicas
/// sharing a catalog run each mirror on one of them at a time, once per interval between them.
struct MirrorScheduler: Service {
    let repository: ImageRepository
    let metrics: ServerMetrics
    let settings: LiveSettings
    /// How long it sleeps at most: a mirror added or changed by SIGHUP starts within this.
    static let recheck = Duration.seconds(1)

    func run() async throws {
        // A run under way when the server stops is cancelled; its partial download is kept.
        // Downloads are digested and checked as they arrive: off the event loops.
        await cancelWhenGracefulShutdown { await withTaskExecutorPreference(CPUExecutor.shared) { await loop() } }
    }

    private func loop() async {
        let clock = ContinuousClock()
        /// When each mirror, by its definition, is due next.
        var due: [String: ContinuousClock.Instant] = [:]
        while !Task.isCancelled {
            let configuration = settings.configuration
            let mirrors = configuration.mirrors.map { mirror in
                var placed = mirror
                placed.options.localChannels = configuration.channels
                placed.options.validateStreams = configuration.validateStreams
                return (key: mirror.json.compact(), mirror: placed)
            }
            due = due.filter { entry in mirrors.contains { $0.key == entry.key } }
            for (key, mirror) in mirrors where due[key, default: clock.now] <= clock.now && !Task.isCancelled {
                if settings.readOnly {
                    ServerLog.event("mirror run skipped: the server is read-only", [
                        ("from", .array(mirror.options.sources.map(JSONValue.string))),
                    ])
                    due[key] = clock.now + mirror.interval
                } else {
                    due[key] = await runAlone(key, mirror, clock: clock)
                }
            }
            let next = min(due.values.min() ?? clock.now + Self.recheck, clock.now + Self.recheck)
            do { try await Task.sleep(until: next, clock: clock) } catch { return }
        }
    }

    /// Runs the mirror unless another replica sharing the catalog is running it or ran it
    /// within its interval; returns when it is due next. The last run is kept in the catalog
    /// as "MILLISECONDS REPLICA": a server's own earlier runs do not hold it back at start.
    private func runAlone(_ key: String, _ mirror: ScheduledMirror, clock: ContinuousClock) async -> ContinuousClock.Instant {
        let metaKey = "mirror_last_run " + key
        let replica = ProcessInfo.processInfo.hostName + ":" + settings.configuration.storage
        do {
            let ran = try await repository.catalog.alone("mirror " + key) { () async throws -> ContinuousClock.Instant in
                if let text = try await repository.catalog.meta(metaKey), let space = text.firstIndex(of: " "),
                   let ms = Int64(text[..<space]), text[text.index(after: space)...] != replica {
                    let age = Duration.milliseconds(max(0, Int64(Date().timeIntervalSince1970 * 1000) - ms))
                    if age < mirror.interval { return clock.now - age }
                }
                let report = await MirrorRun(repository: repository, options: mirror.options).run()
                metrics.mirrored(report)
                log(report, mirror)
                let value = "\(Int64(Date().timeIntervalSince1970 * 1000)) \(replica)"
                try await repository.catalog.exclusive { catalog in try catalog.setMeta(metaKey, value) }
                return clock.now
            }
            return (ran ?? clock.now) + mirror.interval
        } catch {
            ServerLog.event("mirror run failed", [("level", .string("error")), ("error", .string("\(error)")),
                                                  ("from", .array(mirror.options.sources.map(JSONValue.string)))])
            return clock.now + mirror.interval
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
