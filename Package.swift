// swift-tools-version: 6.0
import PackageDescription

/// Numeric and search-heavy targets are optimised in debug builds too, so the test suite (which runs real
/// models and the syntax constraint) stays fast; release builds are unaffected.
let optimizedAlways: [SwiftSetting] = [.unsafeFlags(["-O"])]

/// Release builds of the syntax constraint's targets and of the engine (whose sampler runs the constraint's
/// redraws and scans) skip the run-time exclusivity checks of class properties and globals (`swift_beginAccess`:
/// 5-10 % of the constraint's instructions, most of it on the recognizer's and the mask's per-token state, and
/// ~600 instructions a sampled token in the sampler). Debug builds, which the tests run, keep them.
let exclusivityUnchecked: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "MoECoder",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "moecoder", targets: ["moecoder"]),
        .library(name: "Syntax", targets: ["Syntax"]),
        .library(name: "Engine", targets: ["Engine"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.4.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
    ],
    targets: [
        // Debian's libtree-sitter-dev: the parsing runtime.
        .systemLibrary(
            name: "CTreeSitter",
            pkgConfig: "tree-sitter",
            providers: [.apt(["libtree-sitter-dev"])]
        ),
        // The official grammar sources fetched by scripts/setup (grammars/<lang>/src), compiled in.
        // Optimised even in debug builds: the constraint runs the grammar's lexers in its inner loop.
        .target(
            name: "Grammars",
            cSettings: [.define("NDEBUG"), .unsafeFlags(["-O2"])]
        ),
        .target(
            name: "Syntax",
            dependencies: ["CTreeSitter", "Grammars"],
            swiftSettings: exclusivityUnchecked
        ),
        // SIMD kernels in C (run-time dispatch: portable, AVX2+FMA, AVX-512 VNNI), 8-bit activations, the
        // worker pool. Optimised in debug builds too.
        .target(name: "CKernels", cSettings: [.define("NDEBUG"), .unsafeFlags(["-O2"])], linkerSettings: [.linkedLibrary("dl")]),
        // Tensor types, quantized blocks, dot products, mat-vec/mat-mul, thread pool.
        .target(name: "Kernels", dependencies: ["CKernels"], swiftSettings: [.unsafeFlags(["-Ounchecked"])]),
        // GGUF reader (mmap) and writer.
        .target(name: "GGUF", dependencies: ["Kernels"]),
        // Byte-level BPE tokenizers.
        .target(name: "Tokenizer"),
        // A small Jinja interpreter for the models' chat templates (Jinja2 semantics as transformers uses them).
        .target(name: "Jinja", swiftSettings: optimizedAlways),
        // Model configs, architectures, KV cache, sampling, generation.
        .target(name: "Engine", dependencies: ["CKernels", "Kernels", "GGUF", "Tokenizer"], swiftSettings: optimizedAlways + exclusivityUnchecked),
        // Completion (fill-in-the-middle), test generation, repair: the features every front end calls.
        .target(name: "Assist", dependencies: ["Syntax", "Engine"], swiftSettings: optimizedAlways + exclusivityUnchecked),
        // The language server: JSON-RPC over stdio, LSP handlers that call Assist.
        .target(name: "LSP", dependencies: ["Assist", "Syntax", "Engine"], swiftSettings: optimizedAlways),
        // `moecoder pull`: the Hugging Face hub's model API, resumable verified downloads, the model cache.
        // Optimised in debug builds too: it hashes whole model files.
        .target(name: "Hub", swiftSettings: optimizedAlways),
        // The HTTP service (`moecoder serve`): OpenAI- and llama.cpp-compatible routes over the batch scheduler.
        .target(
            name: "Server",
            dependencies: [
                "Assist", "Syntax", "Engine", "Jinja",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: optimizedAlways
        ),
        .executableTarget(
            name: "moecoder",
            dependencies: [
                "Syntax",
                "Kernels",
                "Engine",
                "Assist",
                "LSP",
                "Server",
                "Hub",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "SyntaxTests", dependencies: ["Syntax"]),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels", "CKernels"]),
        .testTarget(name: "GGUFTests", dependencies: ["GGUF"], exclude: ["Fixtures"]),
        .testTarget(name: "TokenizerTests", dependencies: ["Tokenizer"]),
        .testTarget(name: "JinjaTests", dependencies: ["Jinja"]),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "Kernels"]),
        .testTarget(name: "AssistTests", dependencies: ["Assist"]),
        .testTarget(name: "CLITests", dependencies: ["moecoder"]),
        .testTarget(name: "LSPTests", dependencies: ["LSP"]),
        .testTarget(name: "HubTests", dependencies: ["Hub"]),
        .testTarget(name: "ServerTests", dependencies: ["Server"]),
    ]
)
