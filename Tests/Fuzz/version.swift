// libFuzzer target: the Accept-Version semver range parser (Sources/IMGAPI/APIVersion.swift).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzVersion(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let range = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    _ = try? APIVersion.negotiate(range, method: "GET", path: "/images")
    return 0
}
