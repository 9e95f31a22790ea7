import Hummingbird
import IMGAPI

extension Endpoints {
    /// `GET /channels` (ListChannels): the configured channels, exactly as configured;
    /// a server without channels has no such resource.
    func listChannels() throws -> Response {
        guard !configuration.channels.isEmpty else { throw IMGAPIError.resourceNotFound("/channels does not exist") }
        return .json(.array(configuration.channels.map(\.json)))
    }
}
