/// A publish that failed, naming the step: `key`, `manifest`, `file`, `ping`, `auth`,
/// `origin`, `dataset`, `snapshot`, `send`, `import`, `upload`, `verify`, `activate`, `output`.
public struct PublishError: Error, CustomStringConvertible {
    public let step: String
    public let message: String

    public init(step: String, _ message: String) {
        self.step = step
        self.message = message
    }

    public var description: String { "\(step): \(message)" }
}
