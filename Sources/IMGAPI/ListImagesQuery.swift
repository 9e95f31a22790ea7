/// The filters, order and paging of one ListImages request (`GET /images`), parsed and checked.
public struct ListImagesQuery: Sendable, Hashable {
    public enum StateFilter: String, Sendable, CaseIterable {
        case active, disabled, unactivated, creating, failed, all
    }

    /// `name=x` matches exactly, `name=~x` matches a case-sensitive substring.
    public enum TextMatch: Sendable, Hashable {
        case exact(String)
        case substring(String)

        public init(_ raw: String) {
            self = raw.hasPrefix("~") ? .substring(String(raw.dropFirst())) : .exact(raw)
        }

        /// The match as written in a query: `x` or `~x`.
        public var raw: String {
            switch self {
            case .exact(let text): return text
            case .substring(let text): return "~" + text
            }
        }
    }

    /// `type=x` selects a type, `type=!x` excludes it.
    public enum TypeMatch: Sendable, Hashable {
        case only(String)
        case excluding(String)
    }

    /// Where a page starts (inclusive): at an image's `published_at`, or at a date.
    public enum Marker: Sendable, Hashable {
        case image(String)
        case date(milliseconds: Int64)
        /// An image's place found by the server (an image another catalog holds).
        case position(milliseconds: Int64, uuid: String)
    }

    public var state: StateFilter = .active
    public var owner: String?
    public var name: TextMatch?
    public var version: TextMatch?
    public var os: String?
    public var type: TypeMatch?
    public var isPublic: Bool?
    /// `tag.KEY=VALUE` pairs, all of which must match.
    public var tags: [Tag] = []
    /// `billing_tag` values, all of which the image must carry.
    public var billingTags: [String] = []
    public var account: String?
    /// Only images in this channel; set by the server from `?channel=` and its configuration.
    public var channel: String?
    /// nil: every match.
    public var limit: Int?
    public var marker: Marker?
    public var descending = false

    /// Most distinct `tag.*` and `billing_tag` filters in one request; each is one SQL term,
    /// and SQLite refuses an expression tree much deeper than this.
    public static let maximumTagFilters = 64

    public struct Tag: Sendable, Hashable {
        public var key: String
        public var value: String
    }

    public init() {}

    /// Reads the query string's pairs in order; repeated keys are allowed where IMGAPI allows them.
    public init(query pairs: [(String, String)]) throws(IMGAPIError) {
        for (key, value) in pairs {
            switch key {
            case "state":
                guard let s = StateFilter(rawValue: value) else { throw .invalidParameter(field: "state") }
                state = s
            case "owner": owner = value
            case "name": name = TextMatch(value)
            case "version": version = TextMatch(value)
            case "os": os = value
            case "type": type = value.hasPrefix("!") ? .excluding(String(value.dropFirst())) : .only(value)
            case "public": isPublic = try Self.boolean(value, field: "public")
            case "billing_tag": billingTags.append(value)
            case "account":
                guard ImageUUID.isValid(value) else { throw .invalidParameter(field: "account") }
                account = value
            case "limit": limit = try Self.limit(value)
            case "marker": marker = try Self.marker(value)
            case "sort": descending = try Self.sortDescending(value)
            default:
                if key.hasPrefix("tag."), key.count > 4 {
                    tags.append(Tag(key: String(key.dropFirst(4)), value: value))
                }
                // Other parameters are ignored, as the reference does (`inclAdminFields` is the server's).
            }
        }
        // A repeated filter asks nothing more: keep the first of each.
        var seenTags = Set<Tag>(), seenBillingTags = Set<String>()
        tags = tags.filter { seenTags.insert($0).inserted }
        billingTags = billingTags.filter { seenBillingTags.insert($0).inserted }
        guard tags.count + billingTags.count <= Self.maximumTagFilters else {
            throw .invalidParameter(
                field: "tag", message: "too many tag filters: at most \(Self.maximumTagFilters) different \"tag.KEY\" and \"billing_tag\" filters in one request; filter the rest on the client")
        }
    }

    public static func boolean(_ value: String, field: String) throws(IMGAPIError) -> Bool {
        switch value {
        case "true": return true
        case "false": return false
        default: throw .invalidParameter(field: field, message: "invalid \"\(field)\": must be \"true\" or \"false\"")
        }
    }

    /// Empty and `0` mean no limit (as the reference); anything but a whole number is refused.
    static func limit(_ value: String) throws(IMGAPIError) -> Int? {
        if value.isEmpty { return nil }
        guard let n = Int(value), n >= 0 else {
            throw .invalidParameter(field: "limit", message: "invalid \"limit\": must be a non-negative integer")
        }
        return n == 0 ? nil : n
    }

    static func marker(_ value: String) throws(IMGAPIError) -> Marker {
        if ImageUUID.isValid(value) { return .image(value) }
        guard let ms = Timestamp.milliseconds(fromISO8601: value) else {
            throw .invalidParameter(field: "marker", message: "invalid \"marker\": not an image UUID or a date")
        }
        return .date(milliseconds: ms)
    }

    static func sortDescending(_ value: String) throws(IMGAPIError) -> Bool {
        let parts = value.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.first == "published_at" else {
            throw .invalidParameter(field: "sort", message: "invalid \"sort\": only \"published_at\" is supported")
        }
        guard parts.count == 2 else { return false }
        switch parts[1].lowercased() {
        case "asc": return false
        case "desc": return true
        default: throw .invalidParameter(field: "sort", message: "invalid \"sort\" order: use \"asc\" or \"desc\"")
        }
    }
}
