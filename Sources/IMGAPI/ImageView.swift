/// TEMPORARY stub, replaced by the manifest branch.
public enum ImageView {
    public static func render(_ record: JSONObject, mode: ServerMode, inclAdminFields: Bool = false, includeChannels: Bool = false) -> JSONObject {
        var o = record
        o["activated"] = nil
        return o
    }
}
