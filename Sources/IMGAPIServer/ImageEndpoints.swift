import HTTPTypes
import Hummingbird
import IMGAPI
import ImageStore
import NIOCore

extension Endpoints {
    /// `GET /images` (ListImages): every match, oldest first, unless `limit` says otherwise.
    /// Answers are cached until the catalog changes.
    func listImages(_ call: Call) async throws -> Response {
        let asked = try ListingAsked(call, self)
        let (query, authenticated, showsChannels, admin) = (asked.query, asked.authenticated, asked.showsChannels, asked.admin)
        let (repository, mode) = (self.repository, self.mode)
        let upstream = try await pullThrough?.catalog.view()
        let generation = upstream.map { Self.mergedGeneration(local: repository.catalog.generation, upstream: $0.generation) }
            ?? repository.catalog.generation
        let answer = try await responseCache.answer(for: asked.key, generation: generation) {
            let rendersRecords = admin || showsChannels
            let catalog = repository.catalog
            if !rendersRecords, upstream == nil {
                return .init(body: JSONBody.array(try await catalog.listItems(query, authenticated: authenticated)))
            }
            let placed = if let upstream {
                try await Self.mergedListing(query, authenticated: authenticated, records: rendersRecords, local: catalog,
                                             upstream: upstream.catalog)
            } else {
                try await catalog.listPlaced(query, authenticated: authenticated, records: true)
            }
            guard rendersRecords else { return .init(body: JSONBody.array(placed.map(\.text))) }
            let (records, undecodable) = Catalog.parseRecords(placed)
            for uuid in undecodable { Self.logUndecodable(uuid) }
            let views = records.map {
                JSONValue.object(ImageView.render($0, mode: mode, inclAdminFields: admin, includeChannels: showsChannels))
            }
            return .init(body: ByteBuffer(string: JSONValue.array(views).prettyPrinted()))
        }
        var response = Response.json(answer.body)
        response.body = largeAnswers.body(answer.body)
        if let upstream { response.headers.append(contentsOf: Self.staleHeaders(upstream)) }
        return response
    }

    /// ListImages answered from the response cache alone (`MemoryAnswerHandler`): nil when
    /// the answer is not cached, is large enough to take turns, or comes from upstreams.
    func cachedListing(_ call: Call) throws -> BufferedAnswer? {
        guard pullThrough == nil,
              let answer = responseCache.cached(try ListingAsked(call, self).key, generation: repository.catalog.generation),
              answer.body.readableBytes < LargeAnswerGate.threshold else { return nil }
        return .json(answer.body)
    }

    /// What decides a call's listing.
    private struct ListingAsked {
        var query: ListImagesQuery
        let authenticated: Bool
        let showsChannels: Bool
        let admin: Bool
        var key: ResponseCache.Key {
            .listing(query: query, authenticated: authenticated, showsChannels: showsChannels, adminFields: admin)
        }

        init(_ call: Call, _ endpoints: Endpoints) throws {
            query = try ListImagesQuery(query: call.query)
            query.channel = try endpoints.channel(call, forRead: true).name
            query.account = try endpoints.account(call)
            authenticated = call.caller.user != nil
            showsChannels = endpoints.showsChannels(call)
            admin = try endpoints.includeAdminFields(call, user: call.caller.user)
        }
    }

    /// `GET /images/:uuid` (GetImage), with `ETag` and `If-None-Match`/`If-Match`. Answers
    /// are cached until the catalog changes; who may see one is decided on each request.
    func getImage(_ uuid: String, _ call: Call) async throws -> Response {
        let asked = try ImageAsked(uuid, call, self)
        let (showsChannels, admin) = (asked.showsChannels, asked.admin)
        let (repository, mode) = (self.repository, self.mode)
        let upstream = try await pullThrough?.catalog.view()
        let generation = upstream.map { Self.mergedGeneration(local: repository.catalog.generation, upstream: $0.generation) }
            ?? repository.catalog.generation
        let answer = try await responseCache.answer(for: asked.key, generation: generation) { [self] in
            let image: StoredImage
            do {
                image = try await repository.image(uuid)
            } catch let error as IMGAPIError where error.status == 404 && upstream != nil {
                guard let upstream, let offered = try await upstreamImage(uuid, in: upstream) else { throw error }
                image = offered
            }
            let body = Self.view(image, mode: mode, showsChannels: showsChannels, adminFields: admin)
            return .init(body: ByteBuffer(string: body), etag: JSONBody.etag(body), image: image)
        }
        var response = try imageAnswer(answer, asked, call).response
        if let upstream { response.headers.append(contentsOf: Self.staleHeaders(upstream)) }
        return response
    }

    /// GetImage answered from the response cache alone (`MemoryAnswerHandler`): nil when
    /// the answer is not cached or comes from upstreams.
    func cachedImage(_ uuid: String, _ call: Call) throws -> BufferedAnswer? {
        guard pullThrough == nil else { return nil }
        let asked = try ImageAsked(uuid, call, self)
        guard let answer = responseCache.cached(asked.key, generation: repository.catalog.generation) else { return nil }
        return try imageAnswer(answer, asked, call)
    }

    /// What decides a call's GetImage answer, and who may see it.
    private struct ImageAsked {
        let uuid: String
        let account: String?
        let channel: ChannelSelection
        let showsChannels: Bool
        let admin: Bool
        var key: ResponseCache.Key { .image(uuid: uuid, showsChannels: showsChannels, adminFields: admin) }

        init(_ uuid: String, _ call: Call, _ endpoints: Endpoints) throws {
            self.uuid = uuid
            account = try endpoints.account(call)
            channel = try endpoints.channel(call, forRead: true)
            showsChannels = endpoints.showsChannels(call)
            admin = try endpoints.includeAdminFields(call, user: call.caller.user)
        }
    }

    /// A GetImage answer as this call may see it.
    private func imageAnswer(_ answer: ResponseCache.Answer, _ asked: ImageAsked, _ call: Call) throws -> BufferedAnswer {
        guard let image = answer.image, let etag = answer.etag else { throw IMGAPIError.internalError() }
        try checkVisible(image, account: asked.account, channel: asked.channel)
        if try ConditionalRequest.evaluate(call.request.headers, etag: etag) == .notModified {
            return .notModified(etag: etag)
        }
        return .json(answer.body, etag: etag)
    }

    /// `POST /images` (CreateImage): a new `unactivated` image with a server-assigned uuid.
    func createImage(_ call: Call) async throws -> Response {
        if let action = call.query.value("action"), !action.isEmpty {
            throw IMGAPIError.invalidParameter(field: "action", message: "unsupported action \"\(action)\" on /images")
        }
        try authenticator.authorizeWrite(call)
        let account = try account(call)
        let channel = try channel(call, forRead: false)
        let body = try await RequestBodyReader.json(call.request, limit: settings.configuration.maxJSONBodySize)
        var record = try ImageDraft.forCreate(body: body ?? .object(JSONObject()), account: account, mode: mode,
                                              uuid: ImageUUID.random())
        if let name = channel.name { record["channels"] = .array([.string(name)]) }
        return .json(view(try await repository.add(record), call), etag: true)
    }

    /// `POST /images/:uuid?action=...`: import, import-remote, activate, enable, disable, channel-add, update.
    func imageAction(_ uuid: String, _ call: Call) async throws -> Response {
        try authenticator.authorizeWrite(call)
        guard let action = call.query.value("action"), !action.isEmpty else {
            throw IMGAPIError.invalidParameter(field: "action", code: "MissingParameter",
                                               message: "no image \"action\" was specified")
        }
        let account = try account(call)
        let channel = try channel(call, forRead: false)
        let body = try await RequestBodyReader.json(call.request, limit: settings.configuration.maxJSONBodySize)
        switch action {
        case "import-remote":
            return try await importRemote(uuid, account: account, channel: channel, call)
        case "import":
            // AdminImportImage: what `imgadm publish` sends. Operators only (no `account`), or a
            // key bound to an owner, whose image it then is.
            let owner = call.caller.owner
            guard account == owner else { throw IMGAPIError.operatorOnly() }
            if let source = try sourceClient(call) {
                guard owner == nil else { throw IMGAPIError.operatorOnly() }
                return try await importFromSource(uuid, source: source, channel: channel, call)
            }
            var record = try ImageDraft.forImport(uuid: uuid, body: body ?? .object(JSONObject()), mode: mode)
            if let owner { record["owner"] = .string(owner) }
            if let name = channel.name { record["channels"] = .array([.string(name)]) }
            return .json(view(try await repository.add(record), call), etag: true)
        case "activate":
            try await checkPreconditions(uuid, account: account, channel: channel, call)
            return .json(view(try await repository.activate(uuid), call), etag: true)
        case "enable", "disable":
            try await checkPreconditions(uuid, account: account, channel: channel, call)
            return .json(view(try await repository.setDisabled(uuid, action == "disable"), call), etag: true)
        case "channel-add" where !configuration.channels.isEmpty:
            try await checkPreconditions(uuid, account: account, channel: channel, call)
            let target = body?.objectValue?["channel"]?.stringValue
            guard let target, configuration.channels.contains(where: { $0.name == target }) else {
                throw ChannelSelection.channelError(target == nil ? .missing("channel") : .invalid("channel"),
                                                    target.map { "unknown channel: \($0)" } ?? "no target \"channel\" in the body")
            }
            return .json(view(try await repository.addChannel(uuid, target), call), etag: true)
        case "update":
            try await checkPreconditions(uuid, account: account, channel: channel, call)
            return try await updateImage(uuid, body: body, account: account, call)
        default:
            throw IMGAPIError.invalidParameter(field: "action", message: "unsupported action \"\(action)\"")
        }
    }

    /// `DELETE /images/:uuid` (DeleteImage): 204, and the file goes when no other image shares it.
    func deleteImage(_ uuid: String, _ call: Call) async throws -> Response {
        try authenticator.authorizeWrite(call)
        let account = try account(call)
        let channel = try channel(call, forRead: false)
        let everywhere = try call.query.value("force_all_channels").map {
            try ListImagesQuery.boolean($0, field: "force_all_channels")
        } ?? false
        _ = try await visibleImage(uuid, account: account, channel: channel, mustOwn: true)
        if let name = channel.name {
            try await repository.delete(uuid, fromChannel: name, everywhere: everywhere)
        } else {
            try await repository.delete(uuid)
        }
        return Response(status: .noContent)
    }

    /// The image, if it is in `channel` and `account` (when given) may see it; 404 otherwise,
    /// as the reference.
    func visibleImage(_ uuid: String, account: String?, channel: ChannelSelection,
                      mustOwn: Bool = false) async throws -> StoredImage {
        let image = try await repository.image(uuid)
        try checkVisible(image, account: account, channel: channel, mustOwn: mustOwn)
        return image
    }

    /// Throws 404 unless the image is in `channel` and `account` (when given) may see it,
    /// and `NotImageOwner` when it may see but must own it.
    func checkVisible(_ image: StoredImage, account: String?, channel: ChannelSelection, mustOwn: Bool = false) throws {
        guard channel.contains(image.record) else { throw IMGAPIError.resourceNotFound("image not found") }
        guard let account else { return }
        let record = image.record
        if record["owner"]?.stringValue == account { return }
        let shared = (record["acl"]?.arrayValue ?? []).contains(.string(account))
        guard image.isActivated, record["public"]?.boolValue == true || shared else {
            throw IMGAPIError.resourceNotFound("image not found")
        }
        if mustOwn {
            throw IMGAPIError(status: 422, code: "NotImageOwner", message: "\(account) does not own image \(image.uuid)")
        }
    }

    /// Visibility, ownership and `If-Match` for a write on an existing image.
    func checkPreconditions(_ uuid: String, account: String?, channel: ChannelSelection, _ call: Call) async throws {
        let image = try await visibleImage(uuid, account: account, channel: channel, mustOwn: true)
        // The ETag is the one GetImage gives this caller (its Accept-Version decides whether
        // `channels` is shown). On a write, a matching If-None-Match is a failed
        // precondition rather than "not modified".
        if try ConditionalRequest.evaluate(call.request.headers, etag: JSONBody.etag(view(image, call))) == .notModified {
            throw IMGAPIError.preconditionFailed("image \(uuid) matches If-None-Match")
        }
    }
}
