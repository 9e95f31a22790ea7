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

            A user is an operator (the default: its keys may do everything), or is bound to \
            an owner uuid with --owner: its keys then act as that account, as if every \
            request named ?account=OWNER. They create images for that owner only, change and \
            delete only its images, see public images, its own and those shared with it by \
            ACL, and are refused (403) when a request names another account.
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
        @Option(help: ArgumentHelp("Bind USER to this owner uuid instead of making it an operator.", valueName: "uuid"))
        var owner: String?

        func validate() throws {
            if let owner, !ImageUUID.isValid(owner) { throw ValidationError("--owner \(owner): not a lower-case uuid") }
        }

        func run() throws {
            let text = try String(contentsOfFile: pubkeyFile, encoding: .utf8)
            let lines = text.split(whereSeparator: \.isNewline).map(String.init)
                .filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty && !$0.hasPrefix("#") }
            guard !lines.isEmpty else { throw ValidationError("\(pubkeyFile): no public key found") }
            for line in lines {
                let key = try SSHPublicKey(openSSHLine: line)
                try options.store.add(user: user, key: key, owner: owner)
                print("added \(key.algorithmName) \(key.sha256Fingerprint) for \(user)" + (owner.map { ", acting for owner \($0)" } ?? ", an operator"))
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
                    var o = JSONObject([("user", .string(entry.user)), ("role", .string(entry.owner == nil ? "operator" : "owner")),
                                        ("type", .string(entry.key.algorithmName)),
                                        ("fingerprint", .string(entry.key.sha256Fingerprint)),
                                        ("md5_fingerprint", .string(entry.key.md5Fingerprint))])
                    if let owner = entry.owner { o["owner"] = .string(owner) }
                    if let comment = entry.key.comment { o["comment"] = .string(comment) }
                    return .object(o)
                }
                print(JSONValue.array(rows).prettyPrinted())
                return
            }
            var table = [["USER", "ROLE", "TYPE", "FINGERPRINT", "COMMENT"]]
            table += entries.map {
                [$0.user, $0.owner.map { "owner \($0)" } ?? "operator", $0.key.algorithmName, $0.key.sha256Fingerprint, $0.key.comment ?? "-"]
            }
            if noHeader { table.removeFirst() }
            let widths = (0..<5).map { column in table.map { $0[column].count }.max() ?? 0 }
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
