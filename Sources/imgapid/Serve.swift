import ArgumentParser
import Foundation
import IMGAPI
import IMGAPIServer
import ImageStore
import ObjectStorage

extension ServerMode: ExpressibleByArgument {}
extension AuthMode: ExpressibleByArgument {}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the IMGAPI server.",
        discussion: """
            Settings come from the defaults, then the --config file, then the options given \
            here. Logs one JSON line per request on standard output (or --log-file). SIGHUP \
            reads the config file again (access, limits, mirrors and scrubs take effect at \
            once, the rest at the next start; a bad file is refused and the settings in force \
            stay), reopens the log file and reloads the TLS certificate. SIGINT or SIGTERM drains: no new connections, an \
            upload in progress is discarded (never half recorded), other requests get \
            shutdownTimeout seconds to finish.

            Point a compute node at it with: imgadm sources -a http://HOST:PORT
            """)

    @Option(help: ArgumentHelp("JSON configuration file (keys: see README.md or --print-config).", valueName: "file"))
    var config: String?

    @Flag(help: "Print the effective configuration as JSON and exit.")
    var printConfig = false

    @Option(help: ArgumentHelp("Data directory: catalog.sqlite, blobs/, authkeys/, created if missing (default ./storage).", valueName: "dir"))
    var storage: String?

    @Option(help: ArgumentHelp("Keep the catalog in PostgreSQL, shared with other replicas: postgres://USER@HOST[:PORT]/DATABASE[?sslmode=MODE]. The password goes in PGPASSWORD or the config file, never here (default: catalog.sqlite in the data directory).", valueName: "url"))
    var catalog: String?

    @Option(help: ArgumentHelp("Keep the shared copy of every file in S3-compatible object storage, for replicas: s3://BUCKET[/PREFIX]?endpoint=URL&region=REGION. Credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or the config's blobsCredentialsFile (default: files only in the data directory).", valueName: "url"))
    var blobs: String?

    @Option(help: ArgumentHelp("Address to listen on (default 127.0.0.1).", valueName: "addr"))
    var host: String?

    @Option(help: ArgumentHelp("Port to listen on; 0 picks a free one and logs it (default 8080).", valueName: "n"))
    var port: Int?

    @Option(help: "public: every image is public (images.smartos.org); private: every image is private (default public).")
    var mode: ServerMode?

    @Option(help: "signature: writes need an HTTP Signature from a key in authkeys/ (see `imgapid keys`) or a client in a trusted network; none: \(AuthMode.noneMeaning) (default signature).")
    var auth: AuthMode?

    @Option(name: .customLong("trust-network"), parsing: .singleValue,
            help: ArgumentHelp("CIDR whose clients may write without a signature, for stock `imgadm publish` (repeatable; replaces the file's list). Loopback is not trusted unless listed.", valueName: "cidr"))
    var trustNetworks: [String] = []

    @Option(help: ArgumentHelp("Write the log to this file instead of standard output; SIGHUP reopens it (for logrotate).", valueName: "path"))
    var logFile: String?

    @Option(help: ArgumentHelp("Serve HTTPS with this PEM certificate chain (with --tls-key); SIGHUP reloads it.", valueName: "file"))
    var tlsCert: String?

    @Option(help: ArgumentHelp("The PEM private key of --tls-cert (unencrypted).", valueName: "file"))
    var tlsKey: String?

    @Option(help: ArgumentHelp("Serve /metrics on this HOST:PORT only, not on the main listener (e.g. 127.0.0.1:9100).", valueName: "host:port"))
    var metricsAddress: String?

    @Flag(inversion: .prefixedNo, help: "Check files of ZFS image types as ZFS send streams when they arrive (default on; --no-validate-streams accepts any bytes, as the reference server does).")
    var validateStreams: Bool?

    func run() async throws {
        IMGAPIApplication.runTasksOnEventLoops()
        let configuration = try effectiveConfiguration()
        if printConfig {
            print(configuration.fileJSON.prettyPrinted())
            return
        }
        if let path = configuration.logFile {
            do { try ServerLog.useFile(path) } catch { throw ValidationError("\(error): check the path and its directory's permissions") }
        }
        // A closed log pipe or a client gone mid-response must give EPIPE, never kill the server.
        signal(SIGPIPE, SIG_IGN)
        let command = self
        try await IMGAPIApplication.run(configuration, reread: { try command.effectiveConfiguration() })
    }

    /// Defaults, overridden by the config file, overridden by command-line options.
    func effectiveConfiguration() throws -> ServerConfiguration {
        var configuration = try config.map(ServerConfiguration.reading) ?? ServerConfiguration()
        if let storage { configuration.storage = storage }
        if let catalog { configuration.catalog = try PostgresLocation.commandLine(catalog) }
        if let blobs {
            do { configuration.blobs = try S3Location(parsing: blobs) } catch { throw ValidationError("--blobs: \(error)") }
        }
        if let logFile { configuration.logFile = logFile }
        if let validateStreams { configuration.validateStreams = validateStreams }
        if let tlsCert { configuration.tlsCertificate = tlsCert }
        if let tlsKey { configuration.tlsKey = tlsKey }
        guard (configuration.tlsCertificate == nil) == (configuration.tlsKey == nil) else {
            throw ValidationError("--tls-cert and --tls-key go together: give both files, or neither for plain HTTP")
        }
        if let metricsAddress {
            guard let address = ListenAddress(metricsAddress) else {
                throw ValidationError("--metrics-address must be HOST:PORT, such as 127.0.0.1:9100")
            }
            configuration.metricsAddress = address
        }
        if let host { configuration.host = host }
        if let port {
            guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
            configuration.port = port
        }
        if let mode { configuration.mode = mode }
        if let auth { configuration.auth = auth }
        if !trustNetworks.isEmpty {
            configuration.trustedNetworks = try trustNetworks.map { text in
                guard let network = TrustedNetwork(text) else {
                    throw ValidationError("--trust-network \(text): not an IPv4 or IPv6 address or CIDR")
                }
                return network
            }
        }
        return configuration
    }
}
