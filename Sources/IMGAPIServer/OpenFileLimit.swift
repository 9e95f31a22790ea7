#if canImport(Glibc)
import Glibc
#endif

/// The process's limit on open descriptors: every connection and every file sent holds one.
enum OpenFileLimit {
    /// Raises the soft limit to the hard limit and returns the limit now in force.
    static func raiseToHardLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return -1 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return limit.rlim_cur >= rlim_t(Int.max) ? Int.max : Int(limit.rlim_cur)
    }

    /// Descriptors kept outside admitted connections: the catalog, the log and housekeeping,
    /// and the refused connections waiting for their 503 (`ConnectionCounts.maxRefusing`).
    static let reserved = 128

    /// `configured` lowered so that connections cannot exhaust `openFiles` (unknown when
    /// negative): each connection may hold two descriptors, its socket and a file it sends.
    static func connectionCap(_ configured: Int, openFiles: Int) -> Int {
        guard openFiles > 0 else { return configured }
        return max(1, min(configured, (openFiles - reserved) / 2))
    }
}
