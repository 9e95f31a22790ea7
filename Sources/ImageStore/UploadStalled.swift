/// An upload's body stopped coming for `seconds` while the server waited for it: raised
/// into the request body by the connection's guard, so the upload ends with an answer.
public struct UploadStalled: Error, CustomStringConvertible {
    public let seconds: Int64

    public init(seconds: Int64) {
        self.seconds = seconds
    }

    public var description: String { "no byte arrived for \(seconds) seconds" }
}
