import ArgumentParser
import IMGAPI
import IMGAPIServer

extension ServerMode: ExpressibleByArgument {}
extension AuthMode: ExpressibleByArgument {}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the IMGAPI server.",
        discussion: """
            Logs one JSON line per request on standard output. SIGINT or SIGTERM stops it \
            cleanly; an upload in progress is discarded, never half recorded.

            Point a compute node at it with: imgadm sources -a http://HOST:PORT
            """)

    @Option(help: "Data directory: catalog.sqlite, blobs/, authkeys/ (created if missing).")
    var storage = "./storage"

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0 picks a free one and logs it).")
    var port = 8080

    @Option(help: "public: every image is public (images.smartos.org); private: every image is private.")
    var mode = ServerMode.public

    @Option(help: "signature: writes need an HTTP Signature from a key in authkeys/ (see `imgapid keys`); none: no checks, development only.")
    var auth = AuthMode.signature

    @Option(name: .customLong("trust-network"), parsing: .singleValue,
            help: "CIDR whose clients may write without a signature, for stock `imgadm publish` (repeatable). Loopback is not trusted unless listed.")
    var trustNetworks: [String] = []

    func run() async throws {
        var networks: [TrustedNetwork] = []
        for text in trustNetworks {
            guard let network = TrustedNetwork(text) else {
                throw ValidationError("--trust-network \(text): not an IPv4 or IPv6 address or CIDR")
            }
            networks.append(network)
        }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        let configuration = ServerConfiguration(storage: storage, host: host, port: port, mode: mode, auth: auth,
                                                trustedNetworks: networks)
        let app = try await IMGAPIApplication.make(configuration)
        try await app.runService()
    }
}
