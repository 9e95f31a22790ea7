// swift-tools-version:6.2
import PackageDescription

let package = Package(
    name: "imgapi",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "imgapid", targets: ["imgapid"]),
        .executable(name: "imgpublish", targets: ["imgpublish"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-async-algorithms.git", from: "1.1.4"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        /// The protocol itself: JSON values, manifests, validation, errors, query parsing. No I/O.
        .target(name: "IMGAPI"),
        /// HTTP Signature (Joyent draft) over OpenSSH keys: parse, sign, verify.
        .target(name: "HTTPSignature", dependencies: [
            "IMGAPI",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "_CryptoExtras", package: "swift-crypto"),
        ]),
        /// Persistence: the catalog (SQLite, or PostgreSQL) and the SHA-256 keyed blob store
        /// (a directory, with S3-compatible object storage as the shared copy for replicas).
        .target(name: "ImageStore", dependencies: [
            "IMGAPI",
            .product(name: "GRDB", package: "GRDB.swift"),
            "ObjectStorage",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "_NIOFileSystem", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
        ]),
        /// The system's decompressors, for checking image files as they arrive.
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        /// libdeflate's CRC-32 (PCLMULQDQ where the CPU has it) for gzip members.
        .systemLibrary(name: "CLibdeflate", path: "Sources/CLibdeflate"),
        .systemLibrary(name: "CBzip2", path: "Sources/CBzip2"),
        /// zstd, for the index of offline bundles.
        .systemLibrary(name: "CZstd", path: "Sources/CZstd"),
        .systemLibrary(name: "CLzma", path: "Sources/CLzma"),
        /// ZFS send streams: decompressed and checked as they arrive.
        .target(name: "ZFSStream", dependencies: [
            "IMGAPI", "CZlib", "CLibdeflate", "CBzip2", "CLzma",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "_NIOFileSystem", package: "swift-nio"),
        ]),
        /// Talks to any IMGAPI server: list, get, download, publish, with request signing.
        .target(name: "IMGAPIClient", dependencies: [
            "IMGAPI", "HTTPSignature",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        /// Copies images, verified, from other IMGAPI servers and offline bundles into the local repository; writes bundles.
        .target(name: "Mirror", dependencies: [
            "IMGAPI", "ImageStore", "IMGAPIClient", "HTTPSignature", "ZFSStream", "CZstd",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "_NIOFileSystem", package: "swift-nio"),
        ]),
        /// S3-compatible object storage: Signature Version 4, objects, ranges, multipart uploads.
        .target(name: "ObjectStorage", dependencies: [
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        /// zfs snapshot/send, compression and the streaming publish to an IMGAPI server.
        .target(name: "Publish", dependencies: [
            "IMGAPI", "IMGAPIClient",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "_NIOFileSystem", package: "swift-nio"),
        ]),
        /// The HTTP server: routes, auth, errors, file transfer.
        .target(name: "IMGAPIServer", dependencies: [
            "IMGAPI", "ImageStore", "HTTPSignature", "IMGAPIClient", "Mirror", "ZFSStream", "ObjectStorage",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdCore", package: "hummingbird"),
            .product(name: "HummingbirdTLS", package: "hummingbird"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "Mustache", package: "swift-mustache"),
        ]),
        .executableTarget(name: "imgapid", dependencies: [
            "IMGAPIServer", "HTTPSignature", "ImageStore", "Mirror", "IMGAPIClient", "ObjectStorage",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "imgpublish", dependencies: [
            "Publish", "IMGAPI", "IMGAPIClient", "HTTPSignature",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "IMGAPITests", dependencies: ["IMGAPI"]),
        .testTarget(name: "HTTPSignatureTests", dependencies: ["HTTPSignature", "IMGAPI"]),
        .testTarget(name: "ZFSStreamTests", dependencies: ["ZFSStream"]),
        /// Signature Version 4 by known answers, and the client against a real S3-protocol peer (`scripts/s3-peer`).
        .testTarget(name: "ObjectStorageTests", dependencies: [
            "ObjectStorage",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
        ]),
        .testTarget(name: "ImageStoreTests", dependencies: [
            "ImageStore", "IMGAPI", "ObjectStorage", .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "NIOCore", package: "swift-nio"), .product(name: "_NIOFileSystem", package: "swift-nio"),
        ]),
        /// End-to-end: the real `imgapid` binary on 127.0.0.1, driven over HTTP.
        .testTarget(name: "IMGAPIServerTests", dependencies: [
            "imgapid", "imgpublish", "IMGAPI", "HTTPSignature", "IMGAPIServer", "ImageStore", "IMGAPIClient", "ObjectStorage",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
    ]
)
