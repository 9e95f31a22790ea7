import HTTPTypes
import IMGAPI

/// The IMGAPI paths this server answers. Anything else is `404 ResourceNotFound`,
/// including image paths whose uuid segment is not a lower-case UUID.
enum Route: Equatable {
    case ping
    case images
    case image(String)
    case imageFile(String)

    init?(path: String) {
        var path = Substring(path)
        if path.count > 1, path.hasSuffix("/") { path = path.dropLast() }
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        guard segments.first == "" else { return nil }
        switch segments.dropFirst().map(String.init) {
        case ["ping"]: self = .ping
        case ["images"]: self = .images
        case let ["images", uuid] where ImageUUID.isValid(uuid): self = .image(uuid)
        case let ["images", uuid, "file"] where ImageUUID.isValid(uuid): self = .imageFile(uuid)
        default: return nil
        }
    }

    var allowedMethods: [HTTPRequest.Method] {
        switch self {
        case .ping: return [.get, .head]
        case .images: return [.get, .head, .post]
        case .image: return [.get, .head, .post, .delete]
        case .imageFile: return [.get, .head, .put]
        }
    }
}
