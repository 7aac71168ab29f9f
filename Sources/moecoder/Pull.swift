import ArgumentParser
import Foundation
import Hub
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `moecoder pull OWNER/REPO[:QUANT]`: downloads a GGUF model from the Hugging Face hub into the model cache.
struct Pull: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Download a GGUF model from the Hugging Face hub into the model cache.",
        discussion: """
            QUANT picks the file (case-insensitive: q4_k_m matches …-Q4_K_M.gguf; a file name works too). Without \
            it: the repository's only GGUF model, else its Q4_K_M. A split model (…-00001-of-00003.gguf) is \
            downloaded whole. Downloads resume where an interrupted one stopped and are checked against the \
            hub's sha256. Prints the path of the model file (the first part of a split one). Then: \
            moecoder generate --model OWNER/REPO[:QUANT] ….
            """)

    @Argument(help: ArgumentHelp("The model: OWNER/REPO or OWNER/REPO:QUANT.", valueName: "OWNER/REPO[:QUANT]"))
    var model: String

    @Option(help: ArgumentHelp("The hub (default: $HF_ENDPOINT or https://huggingface.co).", valueName: "url"))
    var endpoint: String?

    @Option(help: ArgumentHelp("Access token for private or gated models, sent as a bearer token (default: $HF_TOKEN).",
                               valueName: "token"))
    var token: String?

    @Option(help: ArgumentHelp("Branch, tag or commit.", valueName: "revision"))
    var revision = "main"

    @Option(help: ArgumentHelp("The model cache (default: $MOECODER_CACHE or ~/.cache/moecoder/models).",
                               valueName: "dir"))
    var cache: String?

    @Option(help: ArgumentHelp("Times in a row a broken download is resumed within one run (0: fail at once, keeping the partial file).", valueName: "n"))
    var retries = 3

    @Flag(help: "No progress bar or notes on standard error.")
    var quiet = false

    @Flag(help: "Print JSON: the path, size and sha256 of each file.")
    var json = false

    func validate() throws {
        if retries < 0 { throw ValidationError("--retries must be 0 or more") }
        do { _ = try ModelReference(parsing: model) } catch let error as HubError {
            throw ValidationError(error.message)
        }
    }

    func run() throws {
        let reference = try ModelReference(parsing: model)
        let client = HubClient(configuration: HubConfiguration(endpoint: endpoint, token: token, revision: revision,
                                                               retries: retries))
        let cacheRoot = cache.map { URL(fileURLWithPath: ($0 as NSString).expandingTildeInPath) }
            ?? ModelCache.defaultRoot()
        let display = ProgressDisplay(enabled: !quiet && isatty(STDERR_FILENO) == 1, quiet: quiet)
        let result: PullResult
        do {
            result = try client.pull(reference, into: ModelCache(root: cacheRoot), events: { display.handle($0) })
        } catch let error as HubError {
            display.endLine()
            throw CLIFailure(message: "pull \(reference): \(error.message)", status: 1)
        }
        display.endLine()
        if json {
            let files: [[String: Any]] = result.files.map { file in
                ["file": file.name, "path": file.path, "size": Int(file.size), "sha256": file.sha256,
                 "verified": file.verified, "downloaded": file.downloaded]
            }
            let object: [String: Any] = [
                "repo": reference.id, "quant": result.quant.map { $0 as Any } ?? NSNull(),
                "commit": result.commit.map { $0 as Any } ?? NSNull(), "path": result.path, "size": Int(result.size),
                "sha256": result.files[0].sha256, "verified": result.files.allSatisfy(\.verified), "files": files,
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(result.path)
        }
    }
}

/// Draws `pull`'s progress bar on standard error (a terminal only) and its notes (unless --quiet); at most ten
/// redraws a second.
final class ProgressDisplay: @unchecked Sendable {
    private let enabled: Bool
    private let quiet: Bool
    private let line = ProgressLine()
    private let lock = NSLock()
    private var drawn = false
    private var lastDraw = Date.distantPast
    private var started: (file: String, at: Date, offset: Int64)?

    init(enabled: Bool, quiet: Bool) {
        self.enabled = enabled
        self.quiet = quiet
    }

    func handle(_ event: PullEvent) {
        lock.lock()
        defer { lock.unlock() }
        switch event {
        case .note(let text):
            guard !quiet else { return }
            clear()
            FileHandle.standardError.write(Data("moecoder: \(text)\n".utf8))
        case let .progress(file, received, total, startedAt):
            guard enabled else { return }
            let now = Date()
            if started?.file != file || started?.offset != startedAt { started = (file, now, startedAt) }
            let finishing = total.map { received >= $0 } ?? false
            guard finishing || now.timeIntervalSince(lastDraw) >= 0.1 else { return }
            lastDraw = now
            let elapsed = now.timeIntervalSince(started!.at)
            let speed = elapsed > 0.5 ? Double(received - startedAt) / elapsed : nil
            let text = line.render(name: file, received: received, total: total, speed: speed)
            FileHandle.standardError.write(Data("\r\(text)\u{1B}[K".utf8))
            drawn = true
        case .finished:
            endLineLocked()
        }
    }

    func endLine() {
        lock.lock()
        defer { lock.unlock() }
        endLineLocked()
    }

    private func endLineLocked() {
        if drawn { FileHandle.standardError.write(Data("\n".utf8)) }
        drawn = false
    }

    private func clear() {
        if drawn { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        drawn = false
    }
}
