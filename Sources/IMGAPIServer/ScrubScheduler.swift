import Foundation
import IMGAPI
import ImageStore
import ServiceLifecycle

/// Scrubs every stored file in the background of `imgapid serve`, `scrubInterval` after
/// the last scrub ended (kept in the catalog, so restarts do not postpone it; a new store
/// counts from its first start; 0: no scrubs), one file at a time at most `scrubRate` MB/s,
/// both as in force (SIGHUP may change them), and logs the result and reports it to
/// `status` (for `/ready` and `/metrics`). Requests go on meanwhile. Replicas sharing a
/// catalog scrub one at a time, once per interval between them.
struct ScrubScheduler: Service {
    let repository: ImageRepository
    let settings: LiveSettings
    let status: ScrubStatus
    /// How long it sleeps at most: an interval changed by SIGHUP takes effect within this.
    static let recheck = Duration.seconds(1)

    static let lastScrubKey = "last_scrub_ms"

    func run() async throws {
        await cancelWhenGracefulShutdown {
            do {
                var last = try await lastScrub()
                while !Task.isCancelled {
                    let configuration = settings.configuration
                    let due = last + .seconds(configuration.scrubInterval)
                    guard configuration.scrubInterval > 0, due <= .now else {
                        try await Task.sleep(until: configuration.scrubInterval > 0 ? min(due, .now + Self.recheck) : .now + Self.recheck)
                        continue
                    }
                    // One replica at a time: another that is scrubbing, or scrubbed since this
                    // one last looked, puts this one's next scrub off.
                    let ended = try await repository.catalog.alone("scrub") { () async throws -> ContinuousClock.Instant in
                        let recorded = try await lastScrub()
                        guard recorded + .seconds(configuration.scrubInterval) <= .now else { return recorded }
                        try await scrub(rate: Int64(configuration.scrubRate) * 1_000_000)
                        try await record(Date())
                        return .now
                    }
                    last = ended ?? .now
                }
            } catch {
                if !(error is CancellationError) {
                    ServerLog.event("scrubs stopped", [("level", .string("error")), ("error", .string("\(error)"))])
                }
            }
        }
    }

    /// Scrubs every file once, reporting to `status` and the log; a failed scrub is logged.
    private func scrub(rate: Int64) async throws {
        status.started()
        do {
            let report = try await withTaskExecutorPreference(CPUExecutor.shared) {
                try await Scrub(repository: repository, bytesPerSecond: rate) { [status] in
                    status.advanced(done: $0, total: $1, bytes: $2)
                }.run()
            }
            status.ended(report)
            log(report)
        } catch let error as CancellationError {
            throw error
        } catch {
            status.ended(nil)
            ServerLog.event("scrub failed", [("level", .string("error")), ("error", .string("\(error)"))])
        }
    }

    /// When the last scrub ended, on this process's clock; a store never scrubbed counts from now.
    private func lastScrub() async throws -> ContinuousClock.Instant {
        guard let text = try await repository.catalog.meta(Self.lastScrubKey), let ms = Int64(text) else {
            try await record(Date())
            return .now
        }
        status.restore(lastEnded: Date(timeIntervalSince1970: Double(ms) / 1000))
        let age = Date().timeIntervalSince1970 * 1000 - Double(ms)
        return .now - .milliseconds(Int64(max(0, age)))
    }

    private func record(_ date: Date) async throws {
        let ms = String(Int64(date.timeIntervalSince1970 * 1000))
        try await repository.catalog.exclusive { catalog in try catalog.setMeta(Self.lastScrubKey, ms) }
    }

    private func log(_ report: Scrub.Report) {
        var fields: [(String, JSONValue)] = [
            ("ok", .bool(report.clean)), ("files", .number(Double(report.files))), ("bytes", .number(Double(report.bytes))),
            ("quarantined", .number(Double(report.quarantined))),
        ]
        if !report.clean {
            fields.insert(("level", .string("error")), at: 0)
            fields.append(("problems", .array(report.problems.prefix(20).map {
                .string("\($0.sha256) (\($0.images.joined(separator: ", "))): \($0.problem)")
            })))
        }
        ServerLog.event("scrub", fields)
    }
}
