import Hummingbird
import IMGAPI
import ImageStore
import Mirror

/// The IMGAPI endpoints, grouped in extensions by resource (ping, images, image files).
struct Endpoints: Sendable {
    let configuration: ServerConfiguration
    let repository: ImageRepository
    let authenticator: Authenticator
    let remoteImport: RemoteImport
    let jobs: ImportJobs
    let responseCache: ResponseCache
    let metrics: ServerMetrics
    let settings: LiveSettings
    /// The pull-through cache, when the config has `upstreams`.
    let pullThrough: PullThroughCache?
    let writeProbe = CatalogWriteProbe()
    let largeAnswers = LargeAnswerGate()

    var mode: ServerMode { configuration.mode }

    /// An error line for an image whose stored record does not parse (`UndecodableRecord`).
    static func logUndecodable(_ uuid: String) {
        ServerLog.event("stored manifest does not parse", [
            ("level", .string("error")), ("uuid", .string(uuid)),
            ("hint", .string("the catalog is damaged: run `imgapid check`")),
        ])
    }

    /// The channel of this call: `?channel=`, else the default; `*` only when `forRead`.
    func channel(_ call: Call, forRead: Bool) throws -> ChannelSelection {
        try ChannelSelection.resolve(call.query.value("channel"), channels: configuration.channels, forRead: forRead)
    }

    /// The image as this call should see it: the stored rendering, or with `channels`
    /// for a client that asked for API version 2 on a server that has channels.
    func view(_ image: StoredImage, _ call: Call) -> String {
        Self.view(image, mode: mode, showsChannels: showsChannels(call))
    }

    /// The stored rendering, or the image rendered anew with `channels` and/or admin fields.
    static func view(_ image: StoredImage, mode: ServerMode, showsChannels: Bool, adminFields: Bool = false) -> String {
        guard showsChannels || adminFields else { return image.body }
        return JSONValue.object(ImageView.render(image.record, mode: mode, inclAdminFields: adminFields,
                                                 includeChannels: showsChannels)).prettyPrinted()
    }

    func showsChannels(_ call: Call) -> Bool {
        call.version.showsChannels && !configuration.channels.isEmpty
    }

    /// The account a call acts for: `account=` (a UUID) where given. A key bound to an owner
    /// always acts for that owner, and naming another account is refused.
    func account(_ call: Call) throws -> String? {
        let given = call.query.value("account")
        if let given, !ImageUUID.isValid(given) { throw IMGAPIError.invalidParameter(field: "account") }
        guard let owner = call.caller.owner else { return given }
        if let given, given != owner {
            throw IMGAPIError(status: 403, code: "Forbidden",
                              message: "the keys of \(call.caller.user ?? "this user") act for owner \(owner) only, not for account \(given)")
        }
        return owner
    }

    /// `inclAdminFields=true` is for signed-in users only.
    func includeAdminFields(_ call: Call, user: String?) throws -> Bool {
        guard let value = call.query.value("inclAdminFields") else { return false }
        guard try ListImagesQuery.boolean(value, field: "inclAdminFields") else { return false }
        guard user != nil else {
            throw IMGAPIError.unauthorized("Unauthorized (auth required to use \"inclAdminFields\" parameter)")
        }
        return true
    }
}
