import IMGAPI

/// How imgpublish compresses a stream on this host: the program that does it, and the file
/// name ending for `--output`.
extension ImageCompression {
    /// The filter command (reads stdin, writes stdout); nil for `none`. gzip runs `pigz`
    /// on every core: its output is one gzip stream that `gzip -d` and imgadm read.
    public var command: [String]? {
        switch self {
        case .gzip: return ["pigz", "-c", "-6"]
        case .xz: return ["xz", "-c", "-6", "-T0"]
        case .bzip2: return ["bzip2", "-c", "-9"]
        case .none: return nil
        }
    }

    /// The file name ending `--output` uses (`imgadm install -f` takes any).
    public var fileExtension: String {
        switch self {
        case .gzip: return "zfs.gz"
        case .xz: return "zfs.xz"
        case .bzip2: return "zfs.bz2"
        case .none: return "zfs"
        }
    }
}
