/// The manifest's vocabulary (spec §2.1): field names, enumerations and limits.
enum ManifestFields {
    /// Fields every stored image must have (the zvol-, activation- and channel-dependent
    /// ones are checked by their own rules), in the order the reference reports them.
    static let required = [
        "v", "uuid", "owner", "name", "version", "disabled", "activated", "published_at",
        "public", "state", "type", "os", "files", "nic_driver", "disk_driver", "cpu_type", "image_size",
    ]

    /// The remaining known fields, in the order the reference reports them.
    static let optional = [
        "description", "homepage", "eula", "origin", "error", "icon", "acl", "requirements",
        "users", "billing_tags", "traits", "tags", "generate_passwords", "inherited_directories",
        "urn", "channels",
    ]

    static let known = Set(required + optional)

    /// Body fields CreateImage keeps (spec §1.6 step 7).
    static let creatable = [
        "v", "owner", "name", "version", "description", "homepage", "eula", "icon", "type", "os",
        "origin", "public", "disabled", "acl", "error", "requirements", "users", "traits", "tags",
        "billing_tags", "generate_passwords", "inherited_directories", "channels",
    ]

    /// Body fields allowed only when `type` is `zvol`.
    static let zvolOnly = ["nic_driver", "disk_driver", "cpu_type", "image_size"]

    /// Body fields AdminImportImage accepts on top of CreateImage's.
    static let importOnly = ["uuid", "published_at", "urn"]

    static let types = ["zone-dataset", "lx-dataset", "zvol", "docker", "lxd", "other"]
    static let oses = ["smartos", "linux", "windows", "bsd", "illumos", "other"]
    static let bootroms = ["bios", "uefi"]

    static let maxNameLength = 1024
    static let maxVersionLength = 512
    static let maxDescriptionLength = 10240
    static let maxURLLength = 1024
    static let maxBillingTagLength = 128
    static let maxTagsLength = 100 * 1024
}
