// libFuzzer target: the Authorization: Signature header parser
// (Sources/HTTPSignature/SignatureHeader.swift and SignatureParameterParser.swift).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSignature(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let value = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if let header = try? SignatureHeader(authorization: value) {
        _ = (header.user, header.fingerprint, header.headerValue())
        _ = try? SignatureHeader.signingString(headers: header.headers, method: "GET", path: "/ping") { _ in "x" }
    }
    return 0
}
