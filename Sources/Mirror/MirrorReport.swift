import IMGAPI

extension MirrorRun {
    /// What happened to one image.
    public struct Outcome: Sendable {
        public enum Result: String, Sendable {
            case copied, present, updated, wouldCopy = "would-copy", wouldUpdate = "would-update", pruned,
                 wouldPrune = "would-prune", failed
        }
        public var uuid: String
        public var name: String
        public var version: String
        public var source: String
        public var result: Result
        public var bytes: Int64
        public var error: String?

        public var json: JSONValue {
            var object = JSONObject([
                ("uuid", .string(uuid)), ("name", .string(name)), ("version", .string(version)), ("source", .string(source)),
                ("result", .string(result.rawValue)), ("bytes", .number(Double(bytes))),
            ])
            if let error { object["error"] = .string(error) }
            return .object(object)
        }
    }

    /// Progress as the run goes, for a display.
    public enum Event: Sendable {
        case listed(source: String, selected: Int, toCopy: Int, bytes: Int64)
        case received(uuid: String, bytes: Int64)
        case finished(Outcome)
        case sourceFailed(source: String, error: String)
    }

    public struct Report: Sendable {
        public var outcomes: [Outcome] = []
        /// Sources that could not be listed.
        public var failedSources: [(source: String, error: String)] = []
        public var succeeded: Bool { failedSources.isEmpty && !outcomes.contains { $0.result == .failed } }

        public func count(_ result: Outcome.Result) -> Int { outcomes.filter { $0.result == result }.count }

        public var json: JSONValue {
            .object(JSONObject([
                ("ok", .bool(succeeded)),
                ("copied", .number(Double(count(.copied)))), ("present", .number(Double(count(.present)))),
                ("updated", .number(Double(count(.updated)))),
                ("failed", .number(Double(count(.failed)))), ("pruned", .number(Double(count(.pruned)))),
                ("bytes", .number(Double(outcomes.filter { $0.result == .copied }.map(\.bytes).reduce(0, +)))),
                ("images", .array(outcomes.map(\.json))),
                ("source_errors", .array(failedSources.map {
                    .object(JSONObject([("source", .string($0.source)), ("error", .string($0.error))]))
                })),
            ]))
        }
    }
}
