/// One problem with one field, as listed in an error's `errors` array.
public struct FieldError: Sendable, Equatable {
    public var field: String
    public var code: String
    public var message: String?

    public init(field: String, code: String, message: String? = nil) {
        self.field = field
        self.code = code
        self.message = message
    }

    public static func missing(_ field: String, _ message: String? = nil) -> FieldError {
        FieldError(field: field, code: "MissingParameter", message: message)
    }

    public static func invalid(_ field: String, _ message: String? = nil) -> FieldError {
        FieldError(field: field, code: "Invalid", message: message)
    }

    public var json: JSONValue {
        var o = JSONObject([("field", .string(field)), ("code", .string(code))])
        if let message { o["message"] = .string(message) }
        return .object(o)
    }
}

/// Every error the API answers with: an HTTP status and the IMGAPI body
/// `{"code", "message"[, "errors"]}` with string `code` and `message`.
public struct IMGAPIError: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: Int
    public var code: String
    public var message: String
    /// Present (possibly empty) for `ValidationFailed` and `InvalidParameter`.
    public var errors: [FieldError]?

    public init(status: Int, code: String, message: String, errors: [FieldError]? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors
    }

    public var description: String { "\(code): \(message)" }

    public var body: JSONValue {
        var o = JSONObject([("code", .string(code)), ("message", .string(message))])
        if let errors { o["errors"] = .array(errors.map(\.json)) }
        return .object(o)
    }
}

extension IMGAPIError {
    public static func resourceNotFound(_ message: String) -> IMGAPIError {
        IMGAPIError(status: 404, code: "ResourceNotFound", message: message)
    }

    public static func imageNotFound(_ uuid: String) -> IMGAPIError {
        resourceNotFound("image \(uuid) not found")
    }

    public static func invalidParameter(_ message: String, errors: [FieldError]) -> IMGAPIError {
        IMGAPIError(status: 422, code: "InvalidParameter", message: message, errors: errors)
    }

    /// The common single-field form: `invalid "<field>"`.
    public static func invalidParameter(field: String, code: String = "Invalid", message: String? = nil) -> IMGAPIError {
        IMGAPIError(status: 422, code: "InvalidParameter", message: message ?? "invalid \"\(field)\"",
                    errors: [FieldError(field: field, code: code, message: message)])
    }

    public static func validationFailed(_ errors: [FieldError], prefix: String = "invalid image data") -> IMGAPIError {
        let fields = errors.map(\.field)
        let message = fields.isEmpty ? prefix : "\(prefix): \(fields.joined(separator: ", "))"
        return IMGAPIError(status: 422, code: "ValidationFailed", message: message, errors: errors)
    }

    public static func badRequest(_ message: String) -> IMGAPIError {
        IMGAPIError(status: 400, code: "BadRequestError", message: message)
    }

    /// The reference uses `Download` for upload checksum and size problems.
    public static func download(_ message: String) -> IMGAPIError {
        IMGAPIError(status: 400, code: "Download", message: message)
    }

    public static func upload(_ message: String) -> IMGAPIError {
        IMGAPIError(status: 400, code: "Upload", message: message)
    }

    public static func unauthorized(_ message: String = "Unauthorized") -> IMGAPIError {
        IMGAPIError(status: 401, code: "UnauthorizedError", message: message)
    }

    public static func operatorOnly() -> IMGAPIError {
        IMGAPIError(status: 403, code: "OperatorOnly", message: "this endpoint may only be called by an operator")
    }

    public static func methodNotAllowed(_ method: String) -> IMGAPIError {
        IMGAPIError(status: 405, code: "MethodNotAllowedError", message: "\(method) is not allowed")
    }

    public static func imageUuidAlreadyExists(_ uuid: String) -> IMGAPIError {
        IMGAPIError(status: 409, code: "ImageUuidAlreadyExists", message: "image uuid \"\(uuid)\" already exists")
    }

    public static func preconditionFailed(_ message: String) -> IMGAPIError {
        IMGAPIError(status: 412, code: "PreconditionFailed", message: message)
    }

    public static func payloadTooLarge(_ message: String) -> IMGAPIError {
        IMGAPIError(status: 413, code: "RequestEntityTooLarge", message: message)
    }

    public static func imageFilesImmutable(_ uuid: String) -> IMGAPIError {
        IMGAPIError(status: 422, code: "ImageFilesImmutable", message: "cannot modify files on activated image \(uuid)")
    }

    public static func imageAlreadyActivated(_ uuid: String) -> IMGAPIError {
        IMGAPIError(status: 422, code: "ImageAlreadyActivated", message: "image \"\(uuid)\" is already activated")
    }

    public static func noActivationNoFile(_ uuid: String) -> IMGAPIError {
        IMGAPIError(status: 422, code: "NoActivationNoFile", message: "image \"\(uuid)\" cannot be activated: it has no file")
    }

    public static func imageHasDependentImages(_ uuid: String, _ dependents: [String]) -> IMGAPIError {
        IMGAPIError(status: 422, code: "ImageHasDependentImages",
                    message: "image \"\(uuid)\" has \(dependents.count) dependent incremental image(s): \(dependents.joined(separator: ", "))")
    }

    public static func originDoesNotExist(_ origin: String) -> IMGAPIError {
        IMGAPIError(status: 422, code: "OriginDoesNotExist", message: "origin image \"\(origin)\" does not exist")
    }

    /// 422: an image's origin is missing from one of the image's channels, where
    /// `imgadm import` of the image would fail.
    public static func originNotInChannel(_ origin: String, _ channel: String) -> IMGAPIError {
        IMGAPIError(status: 422, code: "OriginNotInChannel",
                    message: "origin image \(origin) is not in channel \"\(channel)\", so imgadm could not import this image from there: add the origin to \"\(channel)\" first (ChannelAddImage)")
    }

    /// 422: an image file that is not what its image type and compression say it is.
    public static func invalidImageFile(_ message: String) -> IMGAPIError {
        IMGAPIError(status: 422, code: "InvalidImageFile", message: message)
    }

    public static func internalError(_ message: String = "internal error") -> IMGAPIError {
        IMGAPIError(status: 500, code: "InternalError", message: message)
    }

    /// Another IMGAPI server an import reads from failed or sent something unusable.
    public static func remoteSource(_ message: String) -> IMGAPIError {
        IMGAPIError(status: 503, code: "RemoteSourceError", message: message)
    }

    /// The server cannot take this request now; the message says when to try again.
    public static func serviceUnavailable(_ message: String) -> IMGAPIError {
        IMGAPIError(status: 503, code: "ServiceUnavailable", message: message)
    }

    public static func storageIsDown(_ message: String) -> IMGAPIError {
        IMGAPIError(status: 503, code: "StorageIsDown", message: message)
    }
}
