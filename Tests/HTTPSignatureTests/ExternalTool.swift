import Foundation
import XCTest

/// Runs command-line tools (ssh-keygen, openssl) for interoperability tests.
struct ExternalTool {
    let url: URL

    /// The tool at the first of `paths` that exists and is executable, else nil.
    static func find(_ paths: [String]) -> ExternalTool? {
        paths.first(where: FileManager.default.isExecutableFile(atPath:)).map { ExternalTool(url: URL(fileURLWithPath: $0)) }
    }

    /// `ssh-keygen`; when missing the calling test fails under `CI=true` and is skipped otherwise.
    static func sshKeygen() throws -> ExternalTool {
        try required("ssh-keygen", package: "openssh-client")
    }

    /// `openssl`, the same way.
    static func openssl() throws -> ExternalTool {
        try required("openssl", package: "openssl")
    }

    /// The tool `name` from the usual places; missing, a failure under `CI=true` (scripts/setup
    /// installs `package`) and a skip elsewhere.
    private static func required(_ name: String, package: String) throws -> ExternalTool {
        if let tool = find(["/usr/bin/", "/usr/local/bin/", "/opt/homebrew/bin/"].map { $0 + name }) { return tool }
        if ProcessInfo.processInfo.environment["CI"] == "true" {
            throw NSError(domain: name, code: 1, userInfo: [
                NSLocalizedDescriptionKey: "\(name) is required when CI=true (scripts/setup installs \(package))",
            ])
        }
        throw XCTSkip("\(name) not installed")
    }

    /// Runs the tool and returns its standard output; a non-zero exit throws with standard error.
    @discardableResult
    func run(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = url
        process.arguments = arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let outData = output.fileHandleForReading.readDataToEndOfFile()
        let errData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let message = String(decoding: errData, as: UTF8.self)
            throw NSError(domain: url.lastPathComponent, code: Int(process.terminationStatus),
                          userInfo: [NSLocalizedDescriptionKey: "\(url.lastPathComponent) \(arguments): \(message)"])
        }
        return String(decoding: outData, as: UTF8.self)
    }
}
