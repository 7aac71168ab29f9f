// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "MoECoder",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "moecoder", targets: ["moecoder"]),
        .library(name: "Syntax", targets: ["Syntax"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // Debian's libtree-sitter-dev: the parsing runtime.
        .systemLibrary(
            name: "CTreeSitter",
            pkgConfig: "tree-sitter",
            providers: [.apt(["libtree-sitter-dev"])]
        ),
        // The official grammar sources fetched by scripts/setup (grammars/<lang>/src), compiled in.
        .target(
            name: "Grammars",
            cSettings: [.define("NDEBUG")]
        ),
        .target(
            name: "Syntax",
            dependencies: ["CTreeSitter", "Grammars"]
        ),
        .executableTarget(
            name: "moecoder",
            dependencies: [
                "Syntax",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "SyntaxTests", dependencies: ["Syntax"]),
        .testTarget(name: "CLITests", dependencies: ["moecoder"]),
    ]
)
