import Foundation
import IMGAPI

/// One JSON line per request on standard output, for operators and log shippers.
struct RequestLog: Sendable {
    struct Entry {
        var requestID: String
        var method: String
        var url: String
        var status: Int
        var contentLength: String?
        var milliseconds: Int
        var remote: String?
        var error: String?
    }

    func write(_ entry: Entry) {
        var line = JSONObject([
            ("time", .string(Timestamp.iso8601(milliseconds: Int64(Date().timeIntervalSince1970 * 1000)))),
            ("req_id", .string(entry.requestID)),
            ("method", .string(entry.method)),
            ("url", .string(entry.url)),
            ("status", .number(Double(entry.status))),
            ("ms", .number(Double(entry.milliseconds))),
        ])
        if let length = entry.contentLength.flatMap(Double.init) { line["bytes"] = .number(length) }
        if let remote = entry.remote { line["remote"] = .string(remote) }
        if let error = entry.error { line["error"] = .string(error) }
        ServerLog.line(line)
    }
}

/// Writes one JSON object per line to standard output, through a `LogSink`.
public enum ServerLog {
    private static let sink = LogSink(descriptor: STDOUT_FILENO)

    public static func line(_ object: JSONObject) {
        sink.write(object.compact() + "\n")
    }

    /// A start-up or housekeeping message.
    public static func event(_ message: String, _ fields: [(String, JSONValue)] = []) {
        sink.write(render(message, fields))
    }

    /// The line `event` writes, with its newline.
    static func render(_ message: String, _ fields: [(String, JSONValue)]) -> String {
        var o = JSONObject([
            ("time", .string(Timestamp.iso8601(milliseconds: Int64(Date().timeIntervalSince1970 * 1000)))),
            ("msg", .string(message)),
        ])
        for (k, v) in fields { o[k] = v }
        return o.compact() + "\n"
    }
}
