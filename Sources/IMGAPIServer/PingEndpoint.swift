import Foundation
import Hummingbird
import IMGAPI

extension Endpoints {
    /// `GET /ping`: what `imgadm sources -a` checks (`imgapi: true`, JSON, 200).
    func ping(_ call: Call) async throws -> Response {
        let user = call.caller.user
        var body = JSONObject([
            ("ping", .string("pong")),
            ("version", .string(IMGAPIServerVersion.current)),
            ("imgapi", .bool(true)),
        ])
        if let user {
            body["pid"] = .number(Double(ProcessInfo.processInfo.processIdentifier))
            body["user"] = .string(user)
        }
        return .json(.object(body))
    }
}
