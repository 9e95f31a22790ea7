/// The `state` of an image (spec §3): derived from `activated` and `disabled`,
/// except for the two placeholder states of images still being created.
public enum ImageState: String, Sendable, CaseIterable {
    case unactivated
    case active
    case disabled
    /// Placeholder while an image is being created (CreateImageFromVm).
    case creating
    /// Placeholder whose creation failed; the record carries `error`.
    case failed

    /// The state of a real (non-placeholder) image.
    public static func derive(activated: Bool, disabled: Bool) -> ImageState {
        guard activated else { return .unactivated }
        return disabled ? .disabled : .active
    }
}

/// The `compression` of an image file. `zstd` is deliberately absent: imgadm crashes on it.
public enum ImageCompression: String, Sendable, CaseIterable {
    case gzip
    case bzip2
    case xz
    case none

    /// The values stock imgadm handles, for messages: "gzip, bzip2, xz or none".
    public static let allowedValues = "gzip, bzip2, xz or none"
}
