import Foundation
import IMGAPI
import XCTest

/// A Prometheus text exposition read by the parser of Prometheus' Python client (Debian's
/// python3-prometheus-client, installed by scripts/setup): a malformed exposition fails the test.
enum PrometheusText {
    struct Sample {
        let name: String
        let labels: [String: String]
        let value: Double
    }

    static func parse(_ text: String) throws -> [Sample] {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(UUID().uuidString).txt")
        try text.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let script = """
            import json, sys
            from prometheus_client.parser import text_string_to_metric_families
            print(json.dumps([{"name": s.name, "labels": s.labels, "value": s.value}
                              for f in text_string_to_metric_families(open(sys.argv[1]).read()) for s in f.samples]))
            """
        let parsed = try ChildProcess.run("/usr/bin/python3", ["-c", script, file.path], timeout: 60)
        guard parsed.status == 0, let samples = try? JSONValue.parse(Array(parsed.output.utf8)).arrayValue else {
            throw TestFailure("the exposition does not parse: \(parsed.output)")
        }
        return samples.compactMap(\.objectValue).map { sample in
            var labels: [String: String] = [:]
            for (key, value) in sample["labels"]?.objectValue ?? JSONObject() { labels[key] = value.stringValue }
            guard case .number(let value) = sample["value"] else { return Sample(name: "", labels: [:], value: .nan) }
            return Sample(name: sample["name"]?.stringValue ?? "", labels: labels, value: value)
        }
    }
}

extension [PrometheusText.Sample] {
    /// The value of the first sample named `name` with (at least) `labels`.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        first { sample in sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value } }?.value
    }
}
