// libFuzzer target: the tar header reader of offline bundles (Sources/Mirror/TarArchive.swift).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTar(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let maximum: Int64 = 20 << 30
    // Any 512 bytes: read, or refused, never a crash; a size read is within the limit.
    var header = Array(bytes.prefix(TarArchive.block))
    header += [UInt8](repeating: 0, count: TarArchive.block - header.count)
    if let entry = try? TarArchive.parse(header: header, maximumSize: maximum) {
        precondition(entry.size >= 0 && entry.size <= maximum, "a size outside the limit")
    }
    // A header written for a name and a size reads back as both.
    guard bytes.count >= 8 else { return 0 }
    let size = Int64(bytes.prefix(8).reduce(UInt64(0)) { ($0 << 8) | UInt64($1) } % UInt64(maximum + 1))
    let name = String(decoding: bytes.dropFirst(8).prefix(100).filter { $0 > 0x20 && $0 < 0x7F }, as: UTF8.self)
    guard !name.isEmpty else { return 0 }
    let written = TarArchive.header(name: name, size: size, mtime: 1_700_000_000)
    let read = try? TarArchive.parse(header: written, maximumSize: maximum)
    precondition(read == TarArchive.Entry(name: name, size: size, isFile: true), "a header does not read back")
    return 0
}
