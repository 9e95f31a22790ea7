import Foundation
import IMGAPI

/// One JSON line per request in the log, for operators and log shippers, written by
/// `AccessLogHandler` once the response has been sent or abandoned: `ms` is the time to its
/// end, `bytes` what was written of its body, `complete` whether all of it was.
enum RequestLog {
    struct Entry {
        var requestID: String
        var method: String
        var url: String
        var status: Int
        /// When the request arrived: `ms` runs to the end of the response.
        var started: ContinuousClock.Instant
        var remote: String?
        var error: String?
    }

    /// Writes the line, built directly: it is the one thing every request logs.
    static func write(_ entry: Entry, bytes: Int, complete: Bool) {
        let elapsed = entry.started.duration(to: .now).components
        let milliseconds = elapsed.seconds * 1000 + elapsed.attoseconds / 1_000_000_000_000_000
        var line = "{\"time\":\""
        line.reserveCapacity(256)
        line += Timestamp.iso8601(milliseconds: Int64(Date().timeIntervalSince1970 * 1000))
        line += "\",\"req_id\":"
        JSONValue.appendQuoted(entry.requestID, to: &line)
        line += ",\"method\":"
        JSONValue.appendQuoted(entry.method, to: &line)
        line += ",\"url\":"
        JSONValue.appendQuoted(entry.url, to: &line)
        line += ",\"status\":\(entry.status),\"ms\":\(milliseconds),\"bytes\":\(bytes),\"complete\":\(complete)"
        if let remote = entry.remote {
            line += ",\"remote\":"
            JSONValue.appendQuoted(remote, to: &line)
        }
        if let error = entry.error {
            line += ",\"error\":"
            JSONValue.appendQuoted(error, to: &line)
        }
        line += "}\n"
        ServerLog.write(line)
    }
}

/// Writes one JSON object per line to standard output or the log file, through a `LogSink`.
public enum ServerLog {
    private static let sink = LogSink(descriptor: STDOUT_FILENO)

    /// Writes to the file at `path` from now on, reopened on SIGHUP (`--log-file`).
    public static func useFile(_ path: String) throws(LogFileError) {
        try sink.useFile(path)
    }

    /// Waits (a second at most) until every line so far has been written: before exit.
    public static func flush() {
        sink.flush(within: 1)
    }

    /// Lines dropped since start because the log output was blocked or failing.
    static var droppedLines: Int { sink.droppedLines }

    public static func line(_ object: JSONObject) {
        sink.write(object.compact() + "\n")
    }

    /// Writes a line already rendered, with its newline.
    static func write(_ line: String) {
        sink.write(line)
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
