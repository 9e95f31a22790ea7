/// Reads a ZFS send stream (the replay stream `zfs send` writes, full, incremental or
/// compound as `-p` and `-R` make it) as its bytes arrive, and checks its framing: the
/// BEGIN record's magic, every record's type and length, the END records and their
/// Fletcher-4 checksums (and each record's own checksum where the stream carries them).
/// What it learns is in `facts` once the stream ended well.
struct SendStreamParser {
    /// What a complete, well-formed stream says about itself.
    struct Facts: Sendable, Equatable {
        /// The guid of the snapshot the stream makes.
        var toGUID: UInt64
        /// The guid of the snapshot it starts from; 0 for a full stream.
        var fromGUID: UInt64
        /// The snapshot's name on the sending host.
        var name: String
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static let recordSize = 312
    static let magic: UInt64 = 0x2F5BACBAC
    /// The largest payload a record may announce: a 16 MiB block.
    static let maximumPayload: UInt64 = 16 << 20

    private enum Expecting {
        case record
        case payload(remaining: UInt64)
        case done
    }

    private enum RecordType: UInt32 {
        case begin = 0, object, freeObjects, write, free, end, writeByReference, spill, writeEmbedded, objectRange, redact
    }

    private var expecting = Expecting.record
    private var header: [UInt8] = []
    private var checksum = Fletcher4()
    /// Records read, for messages.
    private var records = 0
    /// Inside a compound stream (`-p`, `-R`): after its header, substreams follow until a final END.
    private var compound = false
    /// Inside a substream (between its BEGIN and END).
    private var inSubstream = false
    private(set) var facts: Facts?

    init() {
        header.reserveCapacity(Self.recordSize)
    }

    /// Reads the next bytes of the stream.
    mutating func feed(_ bytes: UnsafeRawBufferPointer) throws {
        var rest = bytes[...]
        while !rest.isEmpty {
            switch expecting {
            case .done:
                throw Failure(description: "there are bytes after the stream's last END record")
            case .payload(let remaining):
                let take = Int(min(UInt64(rest.count), remaining))
                checksum.update(UnsafeRawBufferPointer(rebasing: rest.prefix(take)))
                rest = rest.dropFirst(take)
                expecting = remaining == UInt64(take) ? .record : .payload(remaining: remaining - UInt64(take))
            case .record:
                let take = min(rest.count, Self.recordSize - header.count)
                header += rest.prefix(take)
                rest = rest.dropFirst(take)
                if header.count == Self.recordSize {
                    try record()
                    header.removeAll(keepingCapacity: true)
                }
            }
        }
    }

    /// The stream ended: throws unless it ended after its last END record.
    func finish() throws -> Facts {
        switch expecting {
        case .done:
            guard let facts else { throw Failure(description: "the stream holds no snapshot") }
            return facts
        case .record where records == 0 && header.isEmpty:
            throw Failure(description: "it is empty")
        case .record, .payload:
            throw Failure(description: "it is cut short: no END record after record \(records)")
        }
    }

    private mutating func record() throws {
        records += 1
        let rawType = u32(0)
        if records == 1 {
            guard rawType == RecordType.begin.rawValue, u64(8) == Self.magic else {
                throw Failure(description: u64(8).byteSwapped == Self.magic ? "it was written by a big-endian host, which imgadm cannot receive"
                                                                             : "it does not start with a ZFS BEGIN record")
            }
        }
        guard let type = RecordType(rawValue: rawType) else {
            throw Failure(description: "record \(records) has an unknown type \(rawType)")
        }
        switch type {
        case .begin: try begin()
        case .end: return try end()
        default:
            guard inSubstream else { throw Failure(description: "record \(records) (type \(rawType)) is outside a BEGIN and END") }
        }
        header.withUnsafeBytes { checksum.update(UnsafeRawBufferPointer(rebasing: $0[0..<280])) }
        let own = (0..<4).map { u64(280 + 8 * $0) }
        if type != .begin, own != [0, 0, 0, 0], own != checksum.value {
            throw Failure(description: "checksum mismatch in record \(records)")
        }
        header.withUnsafeBytes { checksum.update(UnsafeRawBufferPointer(rebasing: $0[280...])) }
        let payload = try payloadLength(type)
        if payload > 0 { expecting = .payload(remaining: payload) }
    }

    private mutating func begin() throws {
        guard !inSubstream, u64(8) == Self.magic else { throw Failure(description: "record \(records) is a BEGIN inside a stream") }
        checksum = Fletcher4()
        switch u64(16) & 3 {
        case 2 where records == 1:
            compound = true
        case 1:
            inSubstream = true
            if facts == nil {
                let name = header[56..<(56 + 256)].prefix { $0 != 0 }
                facts = Facts(toGUID: u64(40), fromGUID: u64(48), name: String(decoding: name, as: UTF8.self))
            }
        default:
            throw Failure(description: "record \(records) is a BEGIN of an unknown stream kind \(u64(16) & 3)")
        }
    }

    private mutating func end() throws {
        let sum = (0..<4).map { u64(8 + 8 * $0) }
        if sum != [0, 0, 0, 0], sum != checksum.value {
            throw Failure(description: "checksum mismatch at the END record (record \(records)): the stream was changed or damaged")
        }
        if inSubstream {
            inSubstream = false
            if !compound { expecting = .done }
        } else if compound {
            // The END of the compound header comes before any substream; the final one after them.
            if facts != nil { expecting = .done }
        } else {
            throw Failure(description: "record \(records) is an END without its BEGIN")
        }
        checksum = Fletcher4()
    }

    /// How many payload bytes follow the current record, from its own fields.
    private func payloadLength(_ type: RecordType) throws -> UInt64 {
        let length: UInt64
        switch type {
        case .begin: length = UInt64(u32(4))
        case .object: length = (UInt64(u32(28)) + 7) & ~7
        case .write:
            let compressed = u64(96)
            length = header[50] != 0 && compressed != 0 ? compressed : u64(32)
        case .spill:
            let compressed = u64(40)
            length = compressed != 0 ? compressed : u64(16)
        case .writeEmbedded: length = (UInt64(u32(52)) + 7) & ~7
        default: length = 0
        }
        guard length <= Self.maximumPayload else {
            throw Failure(description: "record \(records) announces \(length) bytes of data, more than any ZFS block")
        }
        return length
    }

    private func u32(_ offset: Int) -> UInt32 {
        header.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self).littleEndian }
    }

    private func u64(_ offset: Int) -> UInt64 {
        header.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt64.self).littleEndian }
    }
}
