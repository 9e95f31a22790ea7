import IMGAPI

/// Re-reads every stored file and checks its size, SHA-256 and SHA-1 against the catalog,
/// one file at a time and at most `bytesPerSecond`. A file that fails is quarantined (see
/// `ImageRepository.quarantine`).
public struct Scrub: Sendable {
    public struct Report: Sendable {
        /// Files read (quarantined ones are not read again).
        public var files = 0
        public var bytes: Int64 = 0
        /// Files this run quarantined.
        public var quarantined = 0
        /// Every quarantined file after the run, with its problem and images.
        public var problems: [(sha256: String, problem: String, images: [String])] = []

        public var clean: Bool { problems.isEmpty }

        public var json: JSONValue {
            .object(JSONObject([
                ("ok", .bool(clean)), ("files", .number(Double(files))), ("bytes", .number(Double(bytes))),
                ("quarantined", .number(Double(quarantined))),
                ("problems", .array(problems.map {
                    .object(JSONObject([("sha256", .string($0.sha256)), ("problem", .string($0.problem)),
                                        ("images", .array($0.images.map(JSONValue.string)))]))
                })),
            ]))
        }
    }

    /// Called after each file: files done, files in all, bytes read.
    public typealias Progress = @Sendable (_ done: Int, _ total: Int, _ bytes: Int64) -> Void

    let repository: ImageRepository
    /// Reading rate limit; nil reads as fast as the disk allows.
    let bytesPerSecond: Int64?
    let progress: Progress?

    public init(repository: ImageRepository, bytesPerSecond: Int64?, progress: Progress? = nil) {
        self.repository = repository
        self.bytesPerSecond = bytesPerSecond
        self.progress = progress
    }

    public func run() async throws -> Report {
        var report = Report()
        let files = try await repository.catalog.storedFiles()
        let started = ContinuousClock.now
        for (index, file) in files.enumerated() {
            try Task.checkCancellation()
            if try await repository.catalog.quarantineProblem(file.sha256) == nil {
                let before = report.bytes
                let outcome = try await StoredFileReader.digest(repository.blobs.path(forSHA256: file.sha256), expectedSize: file.size) {
                    try await pace(before + $0, since: started)
                }
                if case .read(let found, _) = outcome { report.bytes += found.size }
                if let (problem, identity) = StoredFileReader.problem(outcome, for: file),
                   try await repository.quarantine(file.sha256, problem: problem, ifStill: identity) {
                    report.quarantined += 1
                }
                report.files += 1
            }
            progress?(index + 1, files.count, report.bytes)
        }
        report.problems = try await repository.catalog.quarantined()
        return report
    }

    /// Sleeps while more than `bytesPerSecond` were read on average.
    private func pace(_ bytes: Int64, since started: ContinuousClock.Instant) async throws {
        guard let bytesPerSecond, bytesPerSecond > 0 else { return }
        let due = started + .milliseconds(bytes * 1000 / bytesPerSecond)
        if due > .now { try await Task.sleep(until: due) }
    }
}
