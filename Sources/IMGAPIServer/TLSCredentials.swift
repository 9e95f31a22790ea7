import Foundation
import IMGAPI
import NIOSSL
import Synchronization

/// The server's certificate chain and private key (PEM files: `tlsCert`, `tlsKey`), read at
/// start and again on SIGHUP, so that a renewed certificate needs no restart: every new
/// connection's handshake takes the pair loaded last. A pair that does not load (missing,
/// not PEM, key not matching) is refused: at start the server does not run, on SIGHUP the
/// old pair stays and an error line says why.
final class TLSCredentials: Sendable {
    let certificatePath: String
    let keyPath: String
    private let current: Mutex<Pair>

    private struct Pair: @unchecked Sendable {
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
    }

    init(certificate: String, key: String) throws(TLSCredentialsError) {
        certificatePath = certificate
        keyPath = key
        let pair = try Self.load(certificate: certificate, key: key)
        current = Mutex(pair)
        Self.logLoaded(pair, "tls certificate loaded")
    }

    /// TLS 1.2 and later, with the current pair on every handshake.
    var configuration: TLSConfiguration {
        let pair = current.withLock { $0 }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: pair.chain.map { .certificate($0) }, privateKey: .privateKey(pair.key))
        configuration.minimumTLSVersion = .tlsv12
        configuration.sslContextCallback = { [self] _, promise in
            let pair = current.withLock { $0 }
            var override = NIOSSLContextConfigurationOverride()
            override.certificateChain = pair.chain.map { .certificate($0) }
            override.privateKey = .privateKey(pair.key)
            promise.succeed(override)
        }
        return configuration
    }

    /// Reads the files again (SIGHUP).
    func reload() {
        do {
            let pair = try Self.load(certificate: certificatePath, key: keyPath)
            current.withLock { $0 = pair }
            Self.logLoaded(pair, "tls certificate reloaded")
        } catch {
            ServerLog.event("tls certificate not reloaded: the old one stays", [
                ("level", .string("error")), ("error", .string(error.description)),
            ])
        }
    }

    private static func load(certificate: String, key: String) throws(TLSCredentialsError) -> Pair {
        let chain: [NIOSSLCertificate]
        do { chain = try NIOSSLCertificate.fromPEMFile(certificate) } catch {
            throw TLSCredentialsError("\(certificate) holds no PEM certificate (\(error)): give the certificate chain, server certificate first")
        }
        guard !chain.isEmpty else { throw TLSCredentialsError("\(certificate) holds no PEM certificate") }
        let privateKey: NIOSSLPrivateKey
        do { privateKey = try NIOSSLPrivateKey(file: key, format: .pem) } catch {
            throw TLSCredentialsError("\(key) holds no PEM private key (\(error)); an encrypted key is not supported")
        }
        do {
            // Making a context checks that the key belongs to the certificate.
            _ = try NIOSSLContext(configuration: .makeServerConfiguration(
                certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(privateKey)))
        } catch {
            throw TLSCredentialsError("the key in \(key) does not fit the certificate in \(certificate) (\(error))")
        }
        return Pair(chain: chain, key: privateKey)
    }

    private static func logLoaded(_ pair: Pair, _ message: String) {
        let expires = Int64(pair.chain[0].notValidAfter) * 1000
        ServerLog.event(message, [("expires", .string(Timestamp.iso8601(milliseconds: expires)))])
    }
}

/// Why the TLS certificate or key could not be used, in a sentence for the operator.
struct TLSCredentialsError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
