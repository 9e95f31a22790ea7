import Foundation
import IMGAPI

/// Remote imports running in this server (`action=import-remote`), reported by
/// `GET /jobs/:uuid`. Kept in memory: a restart forgets them, and what an interrupted
/// job had not finished is removed at start like any interrupted upload. A finished job is
/// kept for `finishedLifetime`, and the table never holds more than `capacity` jobs.
actor ImportJobs {
    enum State: String { case running, succeeded, failed }

    struct Job {
        let uuid: String
        let imageUUID: String
        let source: String
        let started: Int64
        var state = State.running
        /// Images of the origin chain to copy, and how many are done.
        var total: Int
        var done = 0
        /// Bytes received of the file being copied, and of finished files.
        var bytes: Int64 = 0
        var finishedBytes: Int64 = 0
        var finished: Int64?
        var error: IMGAPIError?

        var json: JSONValue {
            var object = JSONObject([
                ("uuid", .string(uuid)), ("name", .string("import-remote-image")),
                ("image_uuid", .string(imageUUID)), ("source", .string(source)), ("state", .string(state.rawValue)),
                ("progress", .object(JSONObject([
                    ("images_total", .number(Double(total))), ("images_done", .number(Double(done))),
                    ("bytes", .number(Double(finishedBytes + bytes))),
                ]))),
                ("started_at", .string(Timestamp.iso8601(milliseconds: started))),
            ])
            if let finished { object["finished_at"] = .string(Timestamp.iso8601(milliseconds: finished)) }
            if let error {
                object["error"] = .object(JSONObject([("code", .string(error.code)), ("message", .string(error.message))]))
            }
            return .object(object)
        }
    }

    private var jobs: [String: Job] = [:]
    let capacity: Int
    let finishedLifetime: Int64
    private let clock: @Sendable () -> Int64

    /// `finishedLifetime` in milliseconds; `clock` gives the time in milliseconds since the epoch.
    init(capacity: Int = 1000, finishedLifetime: Int64 = 3_600_000, clock: @escaping @Sendable () -> Int64 = ImportJobs.now) {
        self.capacity = capacity
        self.finishedLifetime = finishedLifetime
        self.clock = clock
    }

    /// Refused with 503 while `capacity` jobs are still running.
    func start(imageUUID: String, source: String, total: Int) throws(IMGAPIError) -> String {
        let now = clock()
        jobs = jobs.filter { $0.value.finished.map { now - $0 < finishedLifetime } ?? true }
        while jobs.count >= capacity,
              let oldest = jobs.values.compactMap({ job in job.finished.map { (job.uuid, $0) } }).min(by: { $0.1 < $1.1 }) {
            jobs.removeValue(forKey: oldest.0)
        }
        guard jobs.count < capacity else {
            throw IMGAPIError.serviceUnavailable(
                "\(capacity) remote imports are already running; try again when one has finished")
        }
        let uuid = ImageUUID.random()
        jobs[uuid] = Job(uuid: uuid, imageUUID: imageUUID, source: source, started: now, total: total)
        return uuid
    }

    /// Bytes received so far of the file of image number `image` (0-based) in the chain;
    /// a report that arrives after that image was done is ignored.
    func received(_ job: String, image: Int, bytes: Int64) {
        guard let entry = jobs[job], entry.done == image, bytes > entry.bytes else { return }
        jobs[job]?.bytes = bytes
    }

    /// Image number `done` of the chain is copied; its file had `bytes`.
    func imageDone(_ job: String, bytes: Int64) {
        guard var entry = jobs[job] else { return }
        entry.done += 1
        entry.finishedBytes += bytes
        entry.bytes = 0
        jobs[job] = entry
    }

    func finish(_ job: String, error: IMGAPIError?) {
        jobs[job]?.state = error == nil ? .succeeded : .failed
        jobs[job]?.error = error
        jobs[job]?.finished = clock()
    }

    func json(_ job: String) -> JSONValue? {
        jobs[job]?.json
    }

    @Sendable static func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
}
