/// A publish that failed, naming the step: `ping`, `origin`, `dataset`, `snapshot`,
/// `import`, `upload`, `verify`, `activate`, `output`, `file`.
public struct PublishError: Error, CustomStringConvertible {
    public let step: String
    public let message: String

    public init(step: String, _ message: String) {
        self.step = step
        self.message = message
    }

    public var description: String { "\(step): \(message)" }
}
