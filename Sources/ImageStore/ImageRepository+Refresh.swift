import IMGAPI

extension ImageRepository {
    /// What a refresh does to a mirrored image's icon.
    public enum IconRefresh: Sendable {
        case keep
        case set(ImageIcon)
        case remove
    }

    /// The fields a mirror refreshes from upstream: those UpdateImage can change (channels
    /// apart, which follow the local configuration), and the disabled state.
    static let refreshedFields = ImageUpdate.mutable.union(ImageUpdate.operatorOnly).subtracting(["channels", "origin"])

    /// `local` with the mutable fields of `upstream` (a record made as for an import),
    /// its disabled state, and `channels` when given.
    public static func refreshed(_ local: JSONObject, from upstream: JSONObject, channels: [String]?) -> JSONObject {
        var record = local
        for field in refreshedFields where record[field] != upstream[field] { record[field] = upstream[field] }
        let disabled = upstream["disabled"]?.boolValue ?? false
        if record["disabled"]?.boolValue != disabled {
            record["disabled"] = .bool(disabled)
            record["state"] = .string(ImageState.derive(activated: record["activated"]?.boolValue ?? false, disabled: disabled).rawValue)
        }
        if let channels, Set(channels) != Set((record["channels"]?.arrayValue ?? []).compactMap(\.stringValue)) {
            record["channels"] = .array(channels.map(JSONValue.string))
        }
        return record
    }

    /// Applies `refreshed` to a stored image in one transaction, with its icon. A channel
    /// the image would leave stays while a child of it there needs it. Returns whether
    /// anything changed.
    public func refresh(_ uuid: String, from upstream: JSONObject, channels: [String]?, icon: IconRefresh) async throws -> Bool {
        try await catalog.exclusive { catalog in
            guard let image = try catalog.image(uuid) else { throw IMGAPIError.imageNotFound(uuid) }
            var keep = channels
            if let wanted = channels {
                let current = (image.record["channels"]?.arrayValue ?? []).compactMap(\.stringValue)
                let neededByChildren = try current.filter { try !wanted.contains($0) && !catalog.dependents(of: uuid, inChannel: $0).isEmpty }
                keep = wanted + neededByChildren
            }
            var record = Self.refreshed(image.record, from: upstream, channels: keep)
            switch icon {
            case .keep: break
            case .set: record["icon"] = .bool(true)
            case .remove: record["icon"] = nil
            }
            if case .keep = icon, record == image.record { return false }
            return try catalog.transaction {
                switch icon {
                case .keep: break
                case .set(let bytes): try catalog.setIcon(uuid, bytes)
                case .remove: _ = try catalog.removeIcon(uuid)
                }
                _ = try catalog.save(record)
                return true
            }
        }
    }
}
