import ArgumentParser
import Foundation
import IMGAPI
import IMGAPIServer
import ImageStore
import ObjectStorage

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

/// `--config`, `--storage`, `--catalog` and `--blobs`, as the commands that work on a
/// server's storage take them: the config file's settings (storageDir, catalog, blobs,
/// channels, validateStreams), each overridden by the option that names it.
struct StorageOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The server's JSON configuration file: its storageDir (and channels, validateStreams) apply.", valueName: "file"))
    var config: String?

    @Option(help: ArgumentHelp("Data directory (default: the config's storageDir, else ./storage).", valueName: "dir"))
    var storage: String?

    @Option(help: ArgumentHelp("The server's PostgreSQL catalog, postgres://USER@HOST[:PORT]/DATABASE (default: the config's catalog, else catalog.sqlite in the data directory); the password goes in PGPASSWORD.", valueName: "url"))
    var catalog: String?

    @Option(help: ArgumentHelp("The server's shared object store, s3://BUCKET[/PREFIX]?endpoint=URL&region=REGION (default: the config's blobs, else none).", valueName: "url"))
    var blobs: String?

    /// The server's configuration, with `storage` set to the directory to work on.
    func resolved() throws -> ServerConfiguration {
        var server = try config.map(ServerConfiguration.reading) ?? ServerConfiguration()
        if let storage { server.storage = storage }
        if let catalog { server.catalog = try PostgresLocation.commandLine(catalog) }
        if let blobs {
            do { server.blobs = try S3Location(parsing: blobs) } catch { throw ValidationError("--blobs: \(error)") }
        }
        return server
    }
}

extension PostgresLocation {
    /// A `--catalog` URL: one with a password is refused, as every user of the machine could read it.
    static func commandLine(_ text: String) throws -> PostgresLocation {
        guard URLComponents(string: text)?.password == nil else {
            throw ValidationError("--catalog: a password on the command line is visible to every user of this machine; put it in PGPASSWORD or in the config file's catalog key")
        }
        do { return try PostgresLocation(text) } catch { throw ValidationError("--catalog: \(error)") }
    }
}
