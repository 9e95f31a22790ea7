// libFuzzer target: the Range header parser (Sources/IMGAPIServer/ByteRange.swift).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRange(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    // The first byte picks a file size, from empty to the largest an image may be.
    let sizes: [Int64] = [0, 1, 1024, Int64.max / 2, Int64.max]
    let fileSize = sizes[Int(bytes.first ?? 0) % sizes.count]
    let header = String(decoding: bytes.dropFirst(), as: UTF8.self)
    if case .partial(let range) = ByteRange(header: header, size: fileSize) {
        precondition(range.lowerBound >= 0 && range.upperBound <= fileSize && !range.isEmpty, "range outside the file")
    }
    return 0
}
