import IMGAPI

extension ImageRepository {
    /// ChannelAddImage: adds the image to `channel` (nothing changes when it is there already).
    public func addChannel(_ uuid: String, _ channel: String) async throws -> StoredImage {
        try await catalog.exclusive { catalog in
            guard let image = try catalog.image(uuid) else { throw IMGAPIError.imageNotFound(uuid) }
            var record = image.record
            var channels = record["channels"]?.arrayValue ?? []
            guard !channels.contains(.string(channel)) else { return image }
            channels.append(.string(channel))
            record["channels"] = .array(channels)
            if image.isActivated { try Self.checkOriginChain(of: record, isIn: [channel], catalog) }
            return try catalog.transaction { try catalog.save(record) }
        }
    }

    /// Refuses (`OriginNotInChannel`) when an image's origin chain is missing from one of
    /// `channels`: an image must be importable from every channel it is in.
    static func checkOriginChain(of record: JSONObject, isIn channels: [String], _ catalog: CatalogWriter) throws {
        for ancestor in try originChain(of: record, catalog) {
            let present = ancestor["channels"]?.arrayValue ?? []
            if let missing = channels.first(where: { !present.contains(.string($0)) }) {
                throw IMGAPIError.originNotInChannel(ancestor["uuid"]?.stringValue ?? "", missing)
            }
        }
    }

    /// Adds `channels` to each stored ancestor of `record` that lacks one (a copied image
    /// brings its origins into its channels). Call inside a transaction.
    static func extendOriginChain(of record: JSONObject, into channels: [String], _ catalog: CatalogWriter) throws {
        for var ancestor in try originChain(of: record, catalog) {
            var present = ancestor["channels"]?.arrayValue ?? []
            let missing = channels.filter { !present.contains(.string($0)) }
            guard !missing.isEmpty else { continue }
            present += missing.map(JSONValue.string)
            ancestor["channels"] = .array(present)
            _ = try catalog.save(ancestor)
        }
    }

    /// The stored records of `record`'s origin, its origin, and so on.
    private static func originChain(of record: JSONObject, _ catalog: CatalogWriter) throws -> [JSONObject] {
        var chain: [JSONObject] = []
        var next = record["origin"]?.stringValue
        var seen = Set<String>()
        while let origin = next, seen.insert(origin).inserted, let ancestor = try catalog.image(origin)?.record {
            chain.append(ancestor)
            next = ancestor["origin"]?.stringValue
        }
        return chain
    }

    /// Puts every image that is in no channel (stored before channels were configured) in
    /// `channel`, so that turning channels on hides nothing. Returns how many moved.
    public func adoptImagesWithoutChannel(into channel: String) async throws -> Int {
        try await catalog.exclusive { catalog in
            try catalog.transaction {
                let uuids = try catalog.imagesWithoutChannel()
                for uuid in uuids {
                    guard var record = try catalog.image(uuid)?.record else { continue }
                    record["channels"] = .array([.string(channel)])
                    try catalog.save(record)
                }
                return uuids.count
            }
        }
    }

    /// DeleteImage in a channel: an image in other channels too only leaves this one
    /// (unless `everywhere`); otherwise it is deleted and its file released.
    /// Returns whether the image was deleted.
    @discardableResult
    public func delete(_ uuid: String, fromChannel channel: String, everywhere: Bool) async throws -> Bool {
        let blobs = self.blobs
        return try await catalog.exclusive { catalog in
            guard let image = try catalog.image(uuid) else { throw IMGAPIError.imageNotFound(uuid) }
            let channels = image.record["channels"]?.arrayValue ?? []
            let leavesOnlyChannel = !everywhere && channels.contains(where: { $0 != .string(channel) })
            let dependents = try catalog.dependents(of: uuid, inChannel: leavesOnlyChannel ? channel : nil)
            guard dependents.isEmpty else { throw IMGAPIError.imageHasDependentImages(uuid, dependents) }
            if leavesOnlyChannel {
                var record = image.record
                record["channels"] = .array(channels.filter { $0 != .string(channel) })
                _ = try catalog.transaction { try catalog.save(record) }
                return false
            }
            try catalog.transaction { try catalog.delete(uuid) }
            try Self.release(image.files, catalog: catalog, blobs: blobs)
            return true
        }
    }
}
