/// The API version a request asks for with `Accept-Version` (or `x-api-version`): a
/// node-semver range matched against the versions this protocol has, 1.0.0 and 2.0.0.
/// Absent means `~1`, as the reference; the highest satisfying version wins.
public enum APIVersion: Int, Sendable, Comparable {
    case v1 = 1
    case v2 = 2

    public static func < (lhs: APIVersion, rhs: APIVersion) -> Bool { lhs.rawValue < rhs.rawValue }

    /// Output differs only here: `channels` is shown from 2.0.0 on.
    public var showsChannels: Bool { self == .v2 }

    /// `method` and `path` only name the request in the refusal, as the reference does.
    public static func negotiate(_ range: String?, method: String, path: String) throws(IMGAPIError) -> APIVersion {
        guard let range, !range.allSatisfy(\.isWhitespace) else { return .v1 }
        let invalid = IMGAPIError(status: 400, code: "InvalidVersion",
                                  message: "\(range) is not supported by \(method) \(path) (versions: 1.0.0, 2.0.0)")
        guard range.utf8.count <= maximumRangeLength else { throw invalid }
        let candidates: [(APIVersion, SemanticVersion)] = [(.v2, SemanticVersion(2, 0, 0)), (.v1, SemanticVersion(1, 0, 0))]
        let sets = range.split(separator: "||", omittingEmptySubsequences: false).map(String.init)
        var parsed: [[Comparator]] = []
        for set in sets {
            guard let comparators = Comparator.parseSet(set), !set.allSatisfy(\.isWhitespace) else { throw invalid }
            parsed.append(comparators)
        }
        for (version, semver) in candidates where parsed.contains(where: { $0.allSatisfy { $0.matches(semver) } }) {
            return version
        }
        throw invalid
    }

    /// Longer ranges are refused unread: no real client sends more than a few comparators.
    static let maximumRangeLength = 256
}

struct SemanticVersion: Comparable {
    var parts: [Int]
    init(_ major: Int, _ minor: Int, _ patch: Int) { parts = [major, minor, patch] }
    static func < (lhs: SemanticVersion, rhs: SemanticVersion) -> Bool { lhs.parts.lexicographicallyPrecedes(rhs.parts) }
}

/// One comparator of a node-semver range: `>=1.2.0`, or the bounds a tilde, caret, x-range
/// or hyphen range stands for.
struct Comparator {
    enum Operation { case less, lessOrEqual, greater, greaterOrEqual, equal }
    var operation: Operation
    var version: SemanticVersion

    func matches(_ v: SemanticVersion) -> Bool {
        switch operation {
        case .less: return v < version
        case .lessOrEqual: return v <= version
        case .greater: return v > version
        case .greaterOrEqual: return v >= version
        case .equal: return v == version
        }
    }

    /// A whitespace-separated set (all must hold); nil when it is not a valid range.
    static func parseSet(_ text: String) -> [Comparator]? {
        let tokens = text.split(whereSeparator: \.isWhitespace).map(String.init)
        if tokens.count == 3, tokens[1] == "-" {
            guard let low = Partial(tokens[0]), let high = Partial(tokens[2]) else { return nil }
            return [Comparator(operation: .greaterOrEqual, version: low.floor)] + high.atMost
        }
        var result: [Comparator] = []
        for token in tokens {
            guard let comparators = parse(token) else { return nil }
            result += comparators
        }
        return result
    }

    static func parse(_ token: String) -> [Comparator]? {
        for (prefix, operation) in [(">=", Operation.greaterOrEqual), ("<=", .lessOrEqual), (">", .greater), ("<", .less), ("=", .equal)]
        where token.hasPrefix(prefix) {
            guard let partial = Partial(String(token.dropFirst(prefix.count))) else { return nil }
            switch operation {
            case .greaterOrEqual: return [Comparator(operation: .greaterOrEqual, version: partial.floor)]
            case .less: return [Comparator(operation: .less, version: partial.floor)]
            case .greater: return partial.above
            case .lessOrEqual: return partial.atMost
            case .equal: return partial.xRange
            }
        }
        if token.hasPrefix("~") {
            guard let partial = Partial(String(token.dropFirst().drop { $0 == ">" })) else { return nil }
            let bump = partial.given.count >= 2 ? 1 : 0  // ~1.2 → <1.3.0; ~1 → <2.0.0
            return [Comparator(operation: .greaterOrEqual, version: partial.floor),
                    Comparator(operation: .less, version: partial.bumped(at: bump))]
        }
        if token.hasPrefix("^") {
            guard let partial = Partial(String(token.dropFirst())) else { return nil }
            let index = partial.given.firstIndex { $0 != 0 } ?? max(partial.given.count - 1, 0)
            return [Comparator(operation: .greaterOrEqual, version: partial.floor),
                    Comparator(operation: .less, version: partial.bumped(at: min(index, 2)))]
        }
        return Partial(token)?.xRange
    }
}

/// A version with trailing parts missing or `x`/`X`/`*`: `2`, `2.x`, `1.0.0`, `*`.
struct Partial {
    /// The numeric parts given, before the first wildcard.
    var given: [Int]
    static let maximumNumber = 9_007_199_254_740_991

    init?(_ text: String) {
        let trimmed = text.hasPrefix("v") ? String(text.dropFirst()) : text
        let parts = trimmed.split(separator: ".", omittingEmptySubsequences: false)
        guard !parts.isEmpty, parts.count <= 3 else { return nil }
        var numbers: [Int] = []
        var wildcard = false
        for part in parts {
            if ["x", "X", "*"].contains(part) { wildcard = true; continue }
            // node-semver refuses numbers above 2^53 - 1; the bound also keeps `bumped` from overflowing.
            guard !wildcard, part.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let n = Int(part),
                  n <= Self.maximumNumber else { return nil }
            numbers.append(n)
        }
        given = numbers
    }

    var floor: SemanticVersion {
        let p = given + Array(repeating: 0, count: 3 - given.count)
        return SemanticVersion(p[0], p[1], p[2])
    }

    /// The first version above the given prefix with part `index` incremented.
    func bumped(at index: Int) -> SemanticVersion {
        var p = given + Array(repeating: 0, count: 3 - given.count)
        p[index] += 1
        for i in (index + 1)..<3 { p[i] = 0 }
        return SemanticVersion(p[0], p[1], p[2])
    }

    /// `1.x` is `>=1.0.0 <2.0.0`; `*` is anything; `1.0.0` is exactly that.
    var xRange: [Comparator] {
        if given.isEmpty { return [] }
        if given.count == 3 { return [Comparator(operation: .equal, version: floor)] }
        return [Comparator(operation: .greaterOrEqual, version: floor),
                Comparator(operation: .less, version: bumped(at: given.count - 1))]
    }

    /// `<=1.2` means below 1.3.0; `<=1.2.3` means up to it; `<=*` is anything.
    var atMost: [Comparator] {
        switch given.count {
        case 0: return []
        case 3: return [Comparator(operation: .lessOrEqual, version: floor)]
        default: return [Comparator(operation: .less, version: bumped(at: given.count - 1))]
        }
    }

    /// `>1.2` means from 1.3.0; `>1.2.3` means above it; `>*` is nothing.
    var above: [Comparator] {
        switch given.count {
        case 0: return [Comparator(operation: .less, version: SemanticVersion(0, 0, 0))]
        case 3: return [Comparator(operation: .greater, version: floor)]
        default: return [Comparator(operation: .greaterOrEqual, version: bumped(at: given.count - 1))]
        }
    }
}
