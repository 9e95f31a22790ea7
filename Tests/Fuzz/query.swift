// libFuzzer target: the query string and ListImages filter parsers
// (Sources/IMGAPIServer/QueryString.swift, Sources/IMGAPI/ListImagesQuery.swift).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzQuery(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let query = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if let pairs = try? QueryString.pairs(query) {
        _ = try? ListImagesQuery(query: pairs)
    }
    return 0
}
