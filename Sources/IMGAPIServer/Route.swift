import HTTPTypes
import IMGAPI

/// The IMGAPI paths this server answers. Anything else is `404 ResourceNotFound`,
/// including image paths whose uuid segment is not a lower-case UUID.
enum Route: Equatable {
    case ping
    case channels
    case images
    case image(String)
    case imageFile(String)
    case imageAcl(String)
    case imageIcon(String)
    /// `/jobs/:uuid`: remote import jobs (ours).
    case job(String)
    /// Prometheus metrics (ours), when not on a listener of their own.
    case metrics
    /// Readiness for load balancers (ours).
    case ready
    /// The server's state, for operators (AdminGetState, AdminUpdateState).
    case state
    /// `/`: browsers are sent to the web catalog.
    case root
    /// `/ui/`: the web catalog's list of images.
    case catalog
    /// `/ui/images/:uuid`: the web catalog's page of one image.
    case catalogImage(String)

    init?(path: String) {
        var path = Substring(path)
        guard path.utf8.first == UInt8(ascii: "/") else { return nil }
        if path.utf8.count > 1, path.utf8.last == UInt8(ascii: "/") { path = path.dropLast() }
        // On the UTF-8 bytes: splitting on a Character would walk grapheme clusters.
        let parts = path.dropFirst().utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).map(Substring.init)
        switch parts.count {
        case 1 where parts[0] == "": self = .root
        case 1 where parts[0] == "ui": self = .catalog
        case 3 where parts[0] == "ui" && parts[1] == "images" && ImageUUID.isValid(parts[2]): self = .catalogImage(String(parts[2]))
        case 1 where parts[0] == "ping": self = .ping
        case 1 where parts[0] == "channels": self = .channels
        case 1 where parts[0] == "images": self = .images
        case 1 where parts[0] == "metrics": self = .metrics
        case 1 where parts[0] == "ready": self = .ready
        case 1 where parts[0] == "state": self = .state
        case 2 where parts[0] == "images" && ImageUUID.isValid(parts[1]): self = .image(String(parts[1]))
        case 2 where parts[0] == "jobs" && ImageUUID.isValid(parts[1]): self = .job(String(parts[1]))
        case 3 where parts[0] == "images" && ImageUUID.isValid(parts[1]) && parts[2] == "file": self = .imageFile(String(parts[1]))
        case 3 where parts[0] == "images" && ImageUUID.isValid(parts[1]) && parts[2] == "acl": self = .imageAcl(String(parts[1]))
        case 3 where parts[0] == "images" && ImageUUID.isValid(parts[1]) && parts[2] == "icon": self = .imageIcon(String(parts[1]))
        default: return nil
        }
    }

    var allowedMethods: [HTTPRequest.Method] {
        switch self {
        case .ping, .channels, .job, .metrics, .ready, .root, .catalog, .catalogImage: return [.get, .head]
        case .images, .state: return [.get, .head, .post]
        case .image: return [.get, .head, .post, .delete]
        case .imageFile: return [.get, .head, .put]
        case .imageAcl: return [.post]
        case .imageIcon: return [.get, .head, .put, .delete]
        }
    }

    /// The path pattern, as the `route` label of metrics.
    var metricLabel: String {
        switch self {
        case .ping: return "/ping"
        case .channels: return "/channels"
        case .images: return "/images"
        case .image: return "/images/:uuid"
        case .imageFile: return "/images/:uuid/file"
        case .imageAcl: return "/images/:uuid/acl"
        case .imageIcon: return "/images/:uuid/icon"
        case .job: return "/jobs/:uuid"
        case .metrics: return "/metrics"
        case .ready: return "/ready"
        case .state: return "/state"
        case .root: return "/"
        case .catalog: return "/ui/"
        case .catalogImage: return "/ui/images/:uuid"
        }
    }
}
