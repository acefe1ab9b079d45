// swift-tools-version:6.1
import Foundation
import PackageDescription

/// Settings shared by every target, tests included.
let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "Conduit",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "conduit", targets: ["CLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // Leaves.
        .systemLibrary(
            name: "CZeroMQ",
            providers: [.apt(["libzmq3-dev"])]
        ),
        // glibc's <malloc.h>, for the daemons' allocator tuning (`mallopt`).
        .systemLibrary(name: "CMalloc"),
        .target(
            name: "ZeroMQ",
            dependencies: ["CZeroMQ"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Protocol",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Spec",
            dependencies: ["Protocol", "Artifacts", .product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Artifacts",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        // Middle.
        .target(
            name: "Transport",
            dependencies: [
                "Protocol", "ZeroMQ",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Store",
            dependencies: [
                "Protocol", "Artifacts",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Coordinator",
            dependencies: [
                "Protocol", "Spec", "Artifacts", "Store", "Transport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Worker",
            dependencies: [
                "Protocol", "Spec", "Artifacts", "Transport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "HTTPAPI",
            dependencies: [
                "Protocol", "Coordinator",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "CLI",
            dependencies: [
                "Protocol", "Spec", "Artifacts", "Coordinator", "Worker", "HTTPAPI", "Transport", "CMalloc",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TestKit",
            dependencies: ["Protocol", "Transport", "ZeroMQ"],
            swiftSettings: swiftSettings
        ),
        // Tests: one target per source target, plus multi-process integration tests.
        .testTarget(name: "ZeroMQTests", dependencies: ["ZeroMQ", "TestKit"], swiftSettings: swiftSettings),
        .testTarget(name: "ProtocolTests", dependencies: ["Protocol"], swiftSettings: swiftSettings),
        .testTarget(name: "SpecTests", dependencies: ["Spec", "Artifacts", "TestKit"], swiftSettings: swiftSettings),
        .testTarget(
            name: "ArtifactsTests", dependencies: ["Artifacts", .product(name: "Crypto", package: "swift-crypto")], swiftSettings: swiftSettings),
        .testTarget(name: "StoreTests", dependencies: ["Store", "Artifacts", "Protocol"], swiftSettings: swiftSettings),
        .testTarget(
            name: "CoordinatorTests",
            dependencies: ["Coordinator", "Protocol", "Spec", "TestKit", "Artifacts", "Store"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SimulationTests",
            dependencies: [
                "Coordinator", "Worker", "Store", "Artifacts", "Protocol", "Spec", "TestKit", "Transport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "WorkerTests",
            dependencies: ["Worker", "Artifacts", "Protocol", "TestKit", "Transport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "HTTPAPITests",
            dependencies: [
                "HTTPAPI", "Coordinator", "Protocol", "TestKit",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "CLITests", dependencies: ["CLI", "Protocol", "Spec"], swiftSettings: swiftSettings),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["Artifacts", "Protocol", "TestKit", "Transport", "ZeroMQ"],
            swiftSettings: swiftSettings
        ),
    ]
)

// The placement benchmark (`make bench-placement`): the pure scheduler core, no I/O.
package.targets.append(
    .executableTarget(name: "PlacementBenchmark", dependencies: ["Coordinator"], path: "benchmarks/placement", swiftSettings: swiftSettings)
)
package.products.append(.executable(name: "placement-bench", targets: ["PlacementBenchmark"]))

// libFuzzer targets, part of the package only with CONDUIT_FUZZ=1 (they need `--sanitize=fuzzer`, which
// provides their `main`). `make fuzz` builds and runs them; see docs/fuzzing.md.
if ProcessInfo.processInfo.environment["CONDUIT_FUZZ"] == "1" {
    let fuzzSettings = swiftSettings + [.unsafeFlags(["-parse-as-library"])]
    package.targets += [
        .executableTarget(
            name: "ProtocolFuzzer", dependencies: ["Protocol"], path: "Fuzz/ProtocolFuzzer", swiftSettings: fuzzSettings),
        .executableTarget(
            name: "PipelineFuzzer", dependencies: ["Spec"], path: "Fuzz/PipelineFuzzer", swiftSettings: fuzzSettings),
    ]
    package.products += [
        .executable(name: "fuzz-protocol", targets: ["ProtocolFuzzer"]),
        .executable(name: "fuzz-pipeline", targets: ["PipelineFuzzer"]),
    ]
}
