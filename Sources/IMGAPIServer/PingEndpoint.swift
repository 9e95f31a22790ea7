import Foundation
import Hummingbird
import IMGAPI
import NIOCore

extension Endpoints {
    /// `GET /ping`: what `imgadm sources -a` checks (`imgapi: true`, JSON, 200).
    func ping(_ call: Call) -> BufferedAnswer {
        guard let user = call.caller.user else { return Self.anonymousPong }
        var body = Self.pong
        body["pid"] = .number(Double(ProcessInfo.processInfo.processIdentifier))
        body["user"] = .string(user)
        return .json(ByteBuffer(string: JSONValue.object(body).prettyPrinted()))
    }

    private static let pong = JSONObject([
        ("ping", .string("pong")),
        ("version", .string(IMGAPIServerVersion.current)),
        ("imgapi", .bool(true)),
    ])
    /// What every anonymous ping gets: made once.
    private static let anonymousPong = BufferedAnswer.json(ByteBuffer(string: JSONValue.object(pong).prettyPrinted()))
}
