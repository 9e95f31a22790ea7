import CBzip2
import CLibdeflate
import CLzma
import CZlib
import IMGAPI

/// Streaming decompression of an image file as it arrives, through the system's zlib,
/// libbz2 and liblzma. Concatenated streams (several gzip members, bzip2 or xz streams
/// one after the other) decompress as one, as `gzip -d`, `bzip2 -d` and `xz -d` do.
protocol Decompressor: AnyObject {
    /// Decompresses `input`, handing each piece of output to `output`.
    func feed(_ input: UnsafeRawBufferPointer, _ output: (UnsafeRawBufferPointer) throws -> Void) throws
    /// The input ended: throws when the compressed data was cut short.
    func finish(_ output: (UnsafeRawBufferPointer) throws -> Void) throws
}

/// Why the bytes could not be decompressed, in words for the uploader.
struct DecompressionError: Error, CustomStringConvertible {
    let description: String
}

func makeDecompressor(_ compression: ImageCompression) throws -> any Decompressor {
    switch compression {
    case .none: return Uncompressed()
    case .gzip: return try GzipDecompressor()
    case .bzip2: return try Bzip2Decompressor()
    case .xz: return try XzDecompressor()
    }
}

/// Output space shared by one decompressor's calls.
private let outputSize = 256 * 1024

final class Uncompressed: Decompressor {
    func feed(_ input: UnsafeRawBufferPointer, _ output: (UnsafeRawBufferPointer) throws -> Void) throws { try output(input) }
    func finish(_ output: (UnsafeRawBufferPointer) throws -> Void) throws {}
}

/// gzip through zlib's inflate, with the members' CRC-32 computed by libdeflate (zlib's own
/// took as long as inflating): each member's trailer, its CRC-32 and length, is checked
/// against the bytes it gave, as `gzip -d` does.
final class GzipDecompressor: Decompressor {
    private var stream = z_stream()
    private var ended = false
    private var started = false
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: outputSize, alignment: 8)
    /// The current member's CRC-32 and length (modulo 2³²) so far.
    private var crc: UInt32 = 0
    private var length: UInt32 = 0
    /// The last 8 input bytes inflate consumed, the newest highest: at a member's end, its trailer.
    private var lastConsumed: UInt64 = 0

    init() throws {
        // 15 + 16: gzip only, as `gzip -d` reads it; zlib checks neither CRC nor length (done here).
        guard inflateInit2_(&stream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK,
              inflateValidate(&stream, 0) == Z_OK else {
            throw DecompressionError(description: "zlib could not start")
        }
    }

    deinit {
        inflateEnd(&stream)
        buffer.deallocate()
    }

    func feed(_ input: UnsafeRawBufferPointer, _ output: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard let base = input.baseAddress, input.count > 0 else { return }
        stream.next_in = UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: Bytef.self))
        stream.avail_in = uInt(input.count)
        while stream.avail_in > 0 {
            if ended {
                // Another gzip member follows.
                guard inflateReset(&stream) == Z_OK else { throw DecompressionError(description: "zlib could not go on") }
                (ended, crc, length) = (false, 0, 0)
            }
            started = true
            let from = UnsafeRawPointer(stream.next_in!)
            stream.next_out = buffer.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.avail_out = uInt(outputSize)
            let status = inflate(&stream, Z_NO_FLUSH)
            remember(UnsafeRawBufferPointer(start: from, count: UnsafeRawPointer(stream.next_in!) - from))
            let produced = outputSize - Int(stream.avail_out)
            if produced > 0 {
                crc = libdeflate_crc32(crc, buffer.baseAddress, produced)
                length &+= UInt32(truncatingIfNeeded: produced)
                try output(UnsafeRawBufferPointer(rebasing: buffer[0..<produced]))
            }
            switch status {
            case Z_STREAM_END:
                ended = true
                if UInt32(truncatingIfNeeded: lastConsumed) != crc || UInt32(lastConsumed >> 32) != length {
                    throw DecompressionError(description: "the gzip data is damaged: it does not match the CRC-32 and length it carries")
                }
            case Z_OK, Z_BUF_ERROR: continue
            default:
                let reason = stream.msg.map { String(cString: $0) } ?? "status \(status)"
                throw DecompressionError(description: "not valid gzip data (\(reason))")
            }
        }
    }

    func finish(_ output: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard started else { throw DecompressionError(description: "the file is empty") }
        guard ended else { throw DecompressionError(description: "the gzip data is cut short") }
    }

    /// Keeps the last 8 of the bytes inflate just consumed.
    private func remember(_ consumed: UnsafeRawBufferPointer) {
        if consumed.count >= 8 {
            lastConsumed = consumed.loadUnaligned(fromByteOffset: consumed.count - 8, as: UInt64.self).littleEndian
        } else {
            for byte in consumed { lastConsumed = lastConsumed >> 8 | UInt64(byte) << 56 }
        }
    }
}

final class Bzip2Decompressor: Decompressor {
    private var stream = bz_stream()
    private var ended = false
    private var started = false
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: outputSize, alignment: 8)

    init() throws {
        guard BZ2_bzDecompressInit(&stream, 0, 0) == BZ_OK else { throw DecompressionError(description: "libbz2 could not start") }
    }

    deinit {
        BZ2_bzDecompressEnd(&stream)
        buffer.deallocate()
    }

    func feed(_ input: UnsafeRawBufferPointer, _ output: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard let base = input.baseAddress, input.count > 0 else { return }
        stream.next_in = UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: CChar.self))
        stream.avail_in = UInt32(input.count)
        while stream.avail_in > 0 {
            if ended {
                // Another bzip2 stream follows.
                BZ2_bzDecompressEnd(&stream)
                let (next, left) = (stream.next_in, stream.avail_in)
                stream = bz_stream()
                guard BZ2_bzDecompressInit(&stream, 0, 0) == BZ_OK else { throw DecompressionError(description: "libbz2 could not go on") }
                (stream.next_in, stream.avail_in) = (next, left)
                ended = false
            }
            started = true
            stream.next_out = buffer.baseAddress!.assumingMemoryBound(to: CChar.self)
            stream.avail_out = UInt32(outputSize)
            let status = BZ2_bzDecompress(&stream)
            let produced = outputSize - Int(stream.avail_out)
            if produced > 0 { try output(UnsafeRawBufferPointer(rebasing: buffer[0..<produced])) }
            switch status {
            case BZ_STREAM_END: ended = true
            case BZ_OK: continue
            default: throw DecompressionError(description: "not valid bzip2 data (libbz2 status \(status))")
            }
        }
    }

    func finish(_ output: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard started else { throw DecompressionError(description: "the file is empty") }
        guard ended else { throw DecompressionError(description: "the bzip2 data is cut short") }
    }
}

final class XzDecompressor: Decompressor {
    private var stream = lzma_stream()
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: outputSize, alignment: 8)

    /// `LZMA_CONCATENATED`, a macro Swift does not import: streams one after another decode as one.
    private static let concatenated: UInt32 = 0x08

    init() throws {
        guard lzma_stream_decoder(&stream, UInt64.max, Self.concatenated) == LZMA_OK else {
            throw DecompressionError(description: "liblzma could not start")
        }
    }

    deinit {
        lzma_end(&stream)
        buffer.deallocate()
    }

    func feed(_ input: UnsafeRawBufferPointer, _ output: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard let base = input.baseAddress, input.count > 0 else { return }
        stream.next_in = base.assumingMemoryBound(to: UInt8.self)
        stream.avail_in = input.count
        while stream.avail_in > 0 {
            if try run(LZMA_RUN, output) { throw DecompressionError(description: "data after the end of the xz data") }
        }
    }

    func finish(_ output: (UnsafeRawBufferPointer) throws -> Void) throws {
        stream.next_in = nil
        stream.avail_in = 0
        while try !run(LZMA_FINISH, output) {}
    }

    /// One call of `lzma_code`; true when the data ended.
    private func run(_ action: lzma_action, _ output: (UnsafeRawBufferPointer) throws -> Void) throws -> Bool {
        stream.next_out = buffer.baseAddress!.assumingMemoryBound(to: UInt8.self)
        stream.avail_out = outputSize
        let status = lzma_code(&stream, action)
        let produced = outputSize - stream.avail_out
        if produced > 0 { try output(UnsafeRawBufferPointer(rebasing: buffer[0..<produced])) }
        switch status {
        case LZMA_STREAM_END: return true
        case LZMA_OK: return false
        case LZMA_BUF_ERROR where action == LZMA_FINISH: throw DecompressionError(description: "the xz data is cut short")
        case LZMA_FORMAT_ERROR: throw DecompressionError(description: "not xz data")
        default: throw DecompressionError(description: "not valid xz data (liblzma status \(status.rawValue))")
        }
    }
}
