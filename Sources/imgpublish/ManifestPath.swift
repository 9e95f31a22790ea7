import IMGAPI

/// `--set a.b.c=VALUE`: sets a field inside nested objects, creating them as needed.
enum ManifestPath {
    static func setting(_ object: JSONObject, _ path: [String], to value: JSONValue) -> JSONObject {
        guard let first = path.first else { return object }
        var object = object
        if path.count == 1 {
            object[first] = value
        } else {
            object[first] = .object(setting(object[first]?.objectValue ?? JSONObject(), Array(path.dropFirst()), to: value))
        }
        return object
    }
}
