import ArgumentParser
import Foundation
import IMGAPI
import IMGAPIServer

extension ServerConfiguration {
    /// The defaults with the JSON config file at `path` applied; a file that cannot be read
    /// or holds a bad key stops the command with the file's name and the problem.
    static func reading(_ path: String) throws -> ServerConfiguration {
        var configuration = ServerConfiguration()
        let bytes: [UInt8]
        do { bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path))) } catch {
            throw ValidationError("--config \(path): cannot read the file (\(error.localizedDescription))")
        }
        do {
            try configuration.apply(file: try JSONValue.parse(bytes))
        } catch let error as ConfigurationError {
            throw ValidationError("\(path): \(error)")
        } catch {
            throw ValidationError("\(path): not valid JSON (\(error))")
        }
        return configuration
    }
}
