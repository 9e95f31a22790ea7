import ArgumentParser
import Foundation
import HTTPSignature
import IMGAPI

struct Keys: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage the SSH public keys allowed to sign requests.",
        discussion: """
            Keys are kept as <storage>/authkeys/USER.keys, one OpenSSH public key per line, \
            the format the reference IMGAPI reads. A running server sees changes at once.
            """,
        subcommands: [Add.self, List.self, Remove.self])

    struct StorageOption: ParsableArguments {
        @Option(help: "Data directory of the server.")
        var storage = "./storage"

        var store: AuthKeyStore {
            AuthKeyStore(directory: URL(fileURLWithPath: storage).appendingPathComponent("authkeys"))
        }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Allow USER to sign with the key in PUBKEY_FILE (e.g. ~/.ssh/id_ed25519.pub).")

        @OptionGroup var options: StorageOption
        @Argument(help: "User name: the keyId clients sign with.") var user: String
        @Argument(help: "OpenSSH public key file.") var pubkeyFile: String

        func run() throws {
            let text = try String(contentsOfFile: pubkeyFile, encoding: .utf8)
            let lines = text.split(whereSeparator: \.isNewline).map(String.init)
                .filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty && !$0.hasPrefix("#") }
            guard !lines.isEmpty else { throw ValidationError("\(pubkeyFile): no public key found") }
            for line in lines {
                let key = try SSHPublicKey(openSSHLine: line)
                try options.store.add(user: user, key: key)
                print("added \(key.algorithmName) \(key.sha256Fingerprint) for \(user)")
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the users and their keys.")

        @OptionGroup var options: StorageOption
        @Flag(name: [.customShort("j"), .long], help: "JSON output.") var json = false
        @Flag(name: .customShort("H"), help: "No table header.") var noHeader = false

        func run() throws {
            let entries = try options.store.list()
            if json {
                let rows = entries.map { entry -> JSONValue in
                    var o = JSONObject([("user", .string(entry.user)), ("type", .string(entry.key.algorithmName)),
                                        ("fingerprint", .string(entry.key.sha256Fingerprint)),
                                        ("md5_fingerprint", .string(entry.key.md5Fingerprint))])
                    if let comment = entry.key.comment { o["comment"] = .string(comment) }
                    return .object(o)
                }
                print(JSONValue.array(rows).prettyPrinted())
                return
            }
            var table = [["USER", "TYPE", "FINGERPRINT", "COMMENT"]]
            table += entries.map { [$0.user, $0.key.algorithmName, $0.key.sha256Fingerprint, $0.key.comment ?? "-"] }
            if noHeader { table.removeFirst() }
            let widths = (0..<4).map { column in table.map { $0[column].count }.max() ?? 0 }
            for row in table {
                print(row.enumerated().map { i, cell in
                    i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
                }.joined(separator: "  "))
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove USER's key with FINGERPRINT (MD5 or SHA256 form), or all of USER's keys.")

        @OptionGroup var options: StorageOption
        @Argument var user: String
        @Argument var fingerprint: String?

        func run() throws {
            let removed = try options.store.remove(user: user, fingerprint: fingerprint)
            guard removed > 0 else {
                throw ValidationError(fingerprint.map { "\(user) has no key \($0)" } ?? "\(user) has no keys")
            }
            print("removed \(removed) key\(removed == 1 ? "" : "s") of \(user)")
        }
    }
}
