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

/// `--config` and `--storage`, as the commands that work on a server's storage take them:
/// the config file's settings (storageDir, channels, validateStreams), and the storage
/// directory `--storage` names, else the config's.
struct StorageOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The server's JSON configuration file: its storageDir (and channels, validateStreams) apply.", valueName: "file"))
    var config: String?

    @Option(help: ArgumentHelp("Data directory (default: the config's storageDir, else ./storage).", valueName: "dir"))
    var storage: String?

    /// The server's configuration, with `storage` set to the directory to work on.
    func resolved() throws -> ServerConfiguration {
        var server = try config.map(ServerConfiguration.reading) ?? ServerConfiguration()
        if let storage { server.storage = storage }
        return server
    }
}
