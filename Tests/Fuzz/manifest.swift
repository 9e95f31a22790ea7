// libFuzzer target: JSON parsing, manifest validation, drafting and rendering
// (Sources/IMGAPI: JSONParser, ImageDraft, ManifestValidator, ImageUpdate, ImageView).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzManifest(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let body = try? JSONValue.parse(UnsafeBufferPointer(start: data, count: size)) else { return 0 }
    let uuid = "f0220000-0000-4000-8000-000000000001"
    for mode in [ServerMode.public, .private] {
        if let record = try? ImageDraft.forImport(uuid: uuid, body: body, mode: mode) {
            _ = ImageView.render(record, mode: mode, inclAdminFields: true, includeChannels: true)
            _ = ManifestValidator(mode: mode, channelsConfigured: true).validate(record)
            _ = try? ImageUpdate.apply(body, to: record, byOperator: false, mode: mode, channels: ["dev"])
        }
        _ = try? ImageDraft.forCreate(body: body, account: uuid, mode: mode, uuid: uuid)
    }
    _ = JSONValue.array([body]).prettyPrinted()
    return 0
}
