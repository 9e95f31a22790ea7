import Foundation
import Hummingbird
import IMGAPI

extension Endpoints {
    /// `GET /state` (AdminGetState): what an operator checks first. Operators only.
    func state(_ call: Call) async throws -> Response {
        try authorizeOperator(call)
        let census = try await repository.catalog.census()
        return .json(.object(JSONObject([
            ("version", .string(IMGAPIServerVersion.current)),
            ("pid", .number(Double(ProcessInfo.processInfo.processIdentifier))),
            ("readOnly", .bool(settings.readOnly)),
            ("mode", .string(configuration.mode.rawValue)),
            ("images", .object(JSONObject(census.imagesByState.sorted { $0.key < $1.key }.map { ($0.key, .number(Double($0.value))) }))),
            ("quarantinedFiles", .number(Double(census.quarantinedFiles))),
            ("scrub", metrics.scrub.json),
        ])))
    }

    /// `POST /state?action=…` (AdminUpdateState): `dropcaches` (the reference's: 202, the
    /// listing cache emptied), and ours, `read-only` and `read-write`, which switch
    /// read-only mode until the next start or SIGHUP. Operators only.
    func updateState(_ call: Call) async throws -> Response {
        try authorizeOperator(call)
        switch call.query.value("action") {
        case "dropcaches":
            responseCache.removeAll()
            return Response(status: .accepted)
        case let action? where action == "read-only" || action == "read-write":
            settings.readOnly = action == "read-only"
            ServerLog.event(settings.readOnly ? "read-only mode on" : "read-only mode off", [
                ("by", .string(call.caller.user ?? call.remote?.ipAddress ?? "-")),
            ])
            return .json(.object(JSONObject([("readOnly", .bool(settings.readOnly))])))
        case nil:
            throw IMGAPIError(status: 409, code: "MissingParameter", message: "\"action\" is required: dropcaches, read-only or read-write")
        case let other?:
            throw IMGAPIError(status: 409, code: "InvalidArgument",
                              message: "\"\(other)\" is not a state action: use dropcaches, read-only or read-write")
        }
    }

    /// An operator: a signed caller whose keys are bound to no owner, or, unsigned, a client
    /// in a trusted network (as for other writes).
    private func authorizeOperator(_ call: Call) throws {
        try authenticator.authorizeWrite(call)
        if let owner = call.caller.owner {
            throw IMGAPIError(status: 403, code: "Forbidden",
                              message: "the keys of \(call.caller.user ?? "this user") act for owner \(owner): /state is for operators")
        }
    }
}
