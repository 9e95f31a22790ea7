import Foundation
import XCTest

/// Runs command-line tools (ssh-keygen, openssl) for interoperability tests.
struct ExternalTool {
    let url: URL

    /// The tool at the first of `paths` that exists and is executable, else nil.
    static func find(_ paths: [String]) -> ExternalTool? {
        paths.first(where: FileManager.default.isExecutableFile(atPath:)).map { ExternalTool(url: URL(fileURLWithPath: $0)) }
    }

    /// `/usr/bin/ssh-keygen`; when missing the calling test fails under `CI=true` and is skipped otherwise.
    static func sshKeygen() throws -> ExternalTool {
        if let tool = find(["/usr/bin/ssh-keygen", "/usr/local/bin/ssh-keygen", "/opt/homebrew/bin/ssh-keygen"]) {
            return tool
        }
        if ProcessInfo.processInfo.environment["CI"] == "true" {
            throw NSError(domain: "ssh-keygen", code: 1, userInfo: [
                NSLocalizedDescriptionKey: "ssh-keygen is required when CI=true (install openssh-client)",
            ])
        }
        throw XCTSkip("ssh-keygen not installed")
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
