import ArgumentParser
import Assist
import Engine
import Foundation
import Syntax

/// `moecoder finetune`: a LoRA adapter for the model, trained on a repository's own code.
struct Finetune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a LoRA adapter for the model on a repository's code (held-out loss before and after).",
        discussion: """
            Collects the repository's Python files (git ls-files in a git work tree, otherwise a walk that honours \
            .gitignore; huge, binary, generated and minified files are skipped), holds out a slice of them by \
            file (--holdout, chosen by a hash of the path, so the same repository gives the same split), adds \
            augmented copies of the training files (`moecoder augment`, --copies per file; --no-augment trains \
            on the files as they are), and trains a LoRA adapter (rank 16, alpha 32 on the attention projections \
            and the shared expert by default, 300 steps; a quarter of the training windows come from general Python \
            code, the standard library by default, --replay) with tools/finetune/lora_train.py: torch and \
            transformers on the model's own weights, read from the GGUF file and checked against this engine's \
            logits before training.

            The trainer needs a Python with torch, transformers and gguf. It is looked for in --python, \
            $MOECODER_PYTHON, ~/.cache/moecoder/finetune-venv and python3 on PATH; when none has them, a virtual \
            environment is created in ~/.cache/moecoder/finetune-venv and the pinned packages \
            (tools/finetune/requirements.txt, torch for CPU) are installed into it, once: about 1 GB of \
            downloads, a few minutes.

            Prints held-out loss, perplexity and next-line exact match (the definitions of `moecoder eval`; \
            the probes are every line of code of the held-out files, as `moecoder eval --probes code --lines \
            all`) before and after training; --json prints the trainer's whole summary. The adapter is a GGUF LoRA \
            adapter in llama.cpp's format (`--lora adapter.gguf` of the commands that take one, or llama.cpp).

            Exit status: 0 when the adapter was written, 2 on bad input (no such folder, no Python files, no \
            model) or a failed training run.
            """)

    @Argument(help: ArgumentHelp("The repository (a folder) to train on.", valueName: "repo"))
    var repo: String

    @Option(help: ArgumentHelp("Where to write the adapter (GGUF).", valueName: "adapter.gguf"))
    var out: String

    @Option(help: ArgumentHelp("The base model (default: the shipped default model).", valueName: "path.gguf"))
    var model: String?

    @Option(help: "Optimizer steps (batch 8 × 512 tokens each); default 300.")
    var steps: Int?

    @Option(help: "Train for about this many minutes instead of a number of steps.")
    var minutes: Double?

    @Option(help: "LoRA rank.")
    var rank = 16

    @Option(help: "LoRA alpha (the update is scaled by alpha / rank).")
    var alpha = 32.0

    @Option(help: ArgumentHelp(
        "Projections to adapt, comma-separated: attn_q, attn_k, attn_v, attn_output, ffn_{gate,up,down}_shexp, "
            + "ffn_{gate,up,down}_exps (routed experts: one adapter per expert).", valueName: "list"))
    var targets = "attn_q,attn_k,attn_v,attn_output,ffn_gate_shexp,ffn_up_shexp,ffn_down_shexp"

    @Option(help: "Peak learning rate (warmup, then cosine decay to a tenth).")
    var lr = 2e-3

    @Option(help: ArgumentHelp(
        "Share of the training windows drawn from general Python code (--replay-dir) instead of the repository, so "
            + "that the adapter keeps the model's general habits (0: the repository only).", valueName: "share"))
    var replay = 0.25

    @Flag(inversion: .prefixedNo, help: ArgumentHelp(
        "On the replayed windows, train toward the base model's own next-token distribution (a KL term, "
            + "distillation) instead of the real next token: the adapter is pulled back to the model's general habits "
            + "there."))
    var replayKl = Self.defaultReplayKL

    /// The default of --replay-kl.
    static let defaultReplayKL = false

    @Option(help: ArgumentHelp("The general code for --replay (default: the standard library of the training "
                               + "Python, which the default model was trained on).", valueName: "dir"))
    var replayDir: String?

    @Option(help: "Share of the files held out for the before/after measurement (0 measures nothing).")
    var holdout = 0.1

    @Option(help: "Seed of the augmentation and of the training samples.")
    var seed: UInt64 = 0

    @Option(help: "Augmented copies of each training file.")
    var copies = 2

    @Flag(help: "Train on the files as they are, without augmented copies.")
    var noAugment = false

    @Option(help: "CPU threads for training.")
    var threads = 2

    @Option(help: ArgumentHelp("Next-line probes per held-out file, evenly spread over its lines of code, or 'all'.",
                               valueName: "n|all"))
    var lines = ProbeCount.all

    @Option(help: ArgumentHelp("Which lines are next-line probes: code (no comments, docstrings or lines under 4 "
                               + "characters) or any (every line of 4 or more non-blank characters).",
                               valueName: "code|any"))
    var probes = ProbeRule.code

    @Option(help: ArgumentHelp("The Python to train with (must have torch, transformers and gguf).",
                               valueName: "path"))
    var python: String?

    @Option(help: ArgumentHelp("Keep the dataset and the trainer's summary in this folder (default: a temporary "
                                   + "folder, removed afterwards).", valueName: "dir"))
    var workDir: String?

    @Flag(help: "Print the summary as JSON on standard output.")
    var json = false

    func validate() throws {
        if steps != nil && minutes != nil { throw ValidationError("give --steps or --minutes, not both") }
        if let steps, steps < 1 { throw ValidationError("--steps must be at least 1") }
        if let minutes, minutes <= 0 { throw ValidationError("--minutes must be positive") }
        if rank < 1 { throw ValidationError("--rank must be at least 1") }
        if !(alpha > 0) { throw ValidationError("--alpha must be positive") }
        if !(holdout >= 0 && holdout < 1) { throw ValidationError("--holdout must be at least 0 and below 1") }
        if copies < 0 { throw ValidationError("--copies must not be negative") }
        if threads < 1 { throw ValidationError("--threads must be at least 1") }
        if !(lr > 0) { throw ValidationError("--lr must be positive") }
        if !(replay >= 0 && replay < 1) { throw ValidationError("--replay must be at least 0 and below 1") }
        if out.isEmpty { throw ValidationError("--out must name the adapter file to write") }
        if !out.lowercased().hasSuffix(".gguf") { throw ValidationError("--out must be a .gguf file (the adapter)") }
    }

    func run() throws {
        // Everything that needs no Python first, so bad input fails fast.
        let collected: RepositoryFiles
        do { collected = try RepositoryFiles.collect(root: repo) } catch let error as RepositoryError {
            throw CLIFailure(message: error.description)
        }
        if collected.files.isEmpty {
            let skipped = collected.skipped.isEmpty ? "" : " (\(collected.skipped.count) skipped: "
                + collected.skipped.prefix(3).map { "\($0.path): \($0.reason)" }.joined(separator: ", ") + ")"
            throw CLIFailure(message: "no Python files to train on in '\(repo)'\(skipped): finetune reads .py files")
        }
        let modelPath = try resolveModel()
        if let replayDir {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: replayDir, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw CLIFailure(message: "--replay-dir '\(replayDir)' is not a folder (it should hold general Python code)")
            }
        }
        let outDir = (URL(fileURLWithPath: out).deletingLastPathComponent().path)
        guard FileManager.default.fileExists(atPath: outDir) else {
            throw CLIFailure(message: "cannot write '\(out)': the folder '\(outDir)' does not exist")
        }
        guard let trainer = Resources.locate("tools/finetune/lora_train.py") else {
            throw CLIFailure(message: "the trainer tools/finetune/lora_train.py is not installed (searched "
                + Resources.searchRoots.joined(separator: ", ") + "); set MOECODER_HOME to the checkout")
        }
        let (train, heldOut) = RepositoryFiles.split(collected.files, holdout: holdout)
        let started = Date()

        let work: String
        if let workDir {
            work = workDir
        } else {
            work = FileManager.default.temporaryDirectory.appendingPathComponent(
                "moecoder-finetune-\(getpid())-\(UUID().uuidString.prefix(8))").path
        }
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { if workDir == nil { try? FileManager.default.removeItem(atPath: work) } }

        progress("\(collected.files.count) Python files in \(collected.root)\(collected.fromGit ? " (git)" : "")"
                 + (collected.skipped.isEmpty ? "" : ", \(collected.skipped.count) skipped")
                 + "; training on \(train.count), holding out \(heldOut.count)")
        var augmented: [(path: String, text: String)] = []
        if !noAugment && copies > 0 {
            augmented = try augment(train, root: collected.root, into: work + "/augmented")
            progress("\(augmented.count) augmented copies of \(train.count) training files")
        }
        try writeJSONL(work + "/train.jsonl", train.map { ($0.path, $0.text) } + augmented)
        try writeJSONL(work + "/heldout.jsonl", heldOut.map { ($0.path, $0.text) })

        let environment = try TrainingEnvironment.find(explicit: python, report: progress)
        var arguments = [trainer, "--model", modelPath, "--data", work, "--out", out, "--summary",
                         work + "/summary.json", "--rank", String(rank), "--alpha", String(alpha),
                         "--targets", targets, "--lr", String(lr), "--seed", String(seed),
                         "--threads", String(threads), "--lines", lines.description,
                         "--probes", probes.rawValue, "--replay", String(replay),
                         replayKl ? "--replay-kl" : "--no-replay-kl"]
        if let replayDir { arguments += ["--replay-dir", replayDir] }
        if let minutes { arguments += ["--minutes", String(minutes)] }
        if let steps { arguments += ["--steps", String(steps)] }
        if let exe = Self.executablePath() { arguments += ["--moecoder", exe] }
        let status = try TrainingEnvironment.stream(environment.python, arguments, tail: 30,
                                                    quiet: [work + "/summary.json"])
        guard status.code == 0 else {
            throw CLIFailure(message: "training failed (status \(status.code)); the trainer's last lines:\n"
                + status.tail.joined(separator: "\n"))
        }
        guard let data = FileManager.default.contents(atPath: work + "/summary.json"),
              var summary = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw CLIFailure(message: "the trainer wrote no summary; its last lines:\n" + status.tail.joined(separator: "\n"))
        }
        summary["repository"] = [
            "root": collected.root, "from_git": collected.fromGit, "files": collected.files.count,
            "train_files": train.map(\.path), "heldout_files": heldOut.map(\.path), "augmented_copies": augmented.count,
            "skipped": collected.skipped.map { ["path": $0.path, "reason": $0.reason] },
        ] as [String: Any]
        summary["python"] = environment.python
        summary["wall_seconds"] = Date().timeIntervalSince(started)
        if json {
            let out = try JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys, .withoutEscapingSlashes])
            print(String(decoding: out, as: UTF8.self))
            return
        }
        printTable(summary, augmented: augmented.count, train: train.count, heldOut: heldOut.count)
    }

    func resolveModel() throws -> String {
        guard let given = model ?? ModelOptions.defaultModelPath() else {
            throw CLIFailure(message: "no default model is installed: pass --model PATH.gguf")
        }
        let path = try ModelOptions.resolveCached(given)
        guard FileManager.default.fileExists(atPath: path) else {
            throw CLIFailure(message: "cannot read the model '\(path)': no such file")
        }
        return path
    }

    static func executablePath() -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return CommandLine.arguments.first }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Runs `moecoder augment` on the training files (from the repository root, so outputs keep their relative
    /// paths) and reads the copies it wrote; a file without an output has no augmented copy.
    func augment(_ files: [RepositoryFiles.File], root: String, into dir: String) throws -> [(path: String, text: String)] {
        guard let exe = Self.executablePath() else { throw CLIFailure(message: "cannot find the moecoder executable") }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: exe)
        process.arguments = ["augment"] + files.map(\.path) + ["--out", dir, "--copies", String(copies),
                                                              "--seed", String(seed), "--json"]
        process.currentDirectoryURL = URL(fileURLWithPath: root)
        let stdout = Pipe(), stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = FileHandle.nullDevice
        try process.run()
        final class Box: @unchecked Sendable { var data = Data() }
        let errors = Box()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errors.data = stderr.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CLIFailure(message: "moecoder augment failed (status \(process.terminationStatus)): "
                + String(decoding: errors.data, as: UTF8.self).suffix(2000)
                + "\npass --no-augment to train without augmented copies")
        }
        var result: [(path: String, text: String)] = []
        var seen = Set<String>()
        for line in output.split(separator: 0x0A) {
            guard let object = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any],
                  let written = object["output"] as? String else { continue }
            let full = written.hasPrefix("/") ? written : root + "/" + written
            guard !seen.contains(full), let text = try? String(contentsOfFile: full, encoding: .utf8) else { continue }
            seen.insert(full)
            result.append((String(full.dropFirst(dir.count + 1)), text))
        }
        if result.isEmpty {
            // No JSON lines to go by: look for the contract's names, DIR/<path without .py>.augK.py.
            for file in files {
                let stem = file.path.hasSuffix(".py") ? String(file.path.dropLast(3)) : file.path
                for k in 1...max(1, copies) {
                    let path = "\(dir)/\(stem).aug\(k).py"
                    if let text = try? String(contentsOfFile: path, encoding: .utf8) { result.append(("\(stem).aug\(k).py", text)) }
                }
            }
        }
        return result
    }

    func writeJSONL(_ path: String, _ docs: [(path: String, text: String)]) throws {
        var data = Data()
        for doc in docs {
            data += try JSONSerialization.data(withJSONObject: ["path": doc.path, "text": doc.text],
                                               options: [.sortedKeys, .withoutEscapingSlashes])
            data.append(0x0A)
        }
        guard FileManager.default.createFile(atPath: path, contents: data) else {
            throw CLIFailure(message: "cannot write '\(path)'")
        }
    }

    func progress(_ line: String) { warn(line) }

    func printTable(_ s: [String: Any], augmented: Int, train: Int, heldOut: Int) {
        func num(_ d: [String: Any]?, _ key: String) -> Double? { (d?[key] as? NSNumber)?.doubleValue }
        let before = s["before"] as? [String: Any], after = s["after"] as? [String: Any]
        print("adapter               \(out) (rank \(rank), alpha \(alpha.formatted()), \((s["targets"] as? [String])?.joined(separator: ",") ?? targets))")
        print("files                 \(train) trained on (+\(augmented) augmented copies), \(heldOut) held out")
        if let steps = num(s, "steps"), let tokens = num(s, "tokens_trained"), let secs = num(s, "train_seconds") {
            print(String(format: "training              %d steps, %.2f M tokens, %.1f min (%.0f tokens/s)", Int(steps),
                         tokens / 1e6, secs / 60, tokens / max(secs, 1e-9)))
        }
        if let share = num(s, "replay"), share > 0, let files = num(s, "replay_files") {
            print(String(format: "replay                %.0f %% of the windows from %d files of %@%@", share * 100, Int(files),
                         (s["replay_dir"] as? String) ?? "?",
                         (s["replay_kl"] as? Bool) == true ? " (toward the base model's distribution)" : ""))
        }
        guard let before, let after else {
            print("held-out              - (nothing held out: --holdout 0 or a single file)")
            return
        }
        print("                      before      after")
        if let b = num(before, "loss"), let a = num(after, "loss") {
            print(String(format: "held-out loss         %-11.4f %.4f", b, a))
        }
        if let b = num(before, "perplexity"), let a = num(after, "perplexity") {
            print(String(format: "perplexity            %-11.3f %.3f (%+.1f %%)", b, a, (a / b - 1) * 100))
        }
        if let bp = num(before, "line_probes"), let be = num(before, "exact_lines"), let ae = num(after, "exact_lines") {
            let cell = String(format: "%d/%d", Int(be), Int(bp))
            print(String(format: "next-line exact       %@%@ %d/%d (%.1f %% -> %.1f %%)", cell,
                         String(repeating: " ", count: max(1, 12 - cell.count)), Int(ae), Int(bp),
                         be / max(bp, 1) * 100, ae / max(bp, 1) * 100))
        }
    }
}

/// Finds (or makes) the Python that runs the trainer, and runs it with its progress passed through.
enum TrainingEnvironment {
    struct Found { var python: String }

    static let modules = ["torch", "transformers", "gguf", "tokenizers", "numpy"]

    static var venv: String {
        let home = ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()
        let cache = ProcessInfo.processInfo.environment["XDG_CACHE_HOME"] ?? home + "/.cache"
        return cache + "/moecoder/finetune-venv"
    }

    /// The first candidate that imports every module, else a freshly set up virtual environment.
    static func find(explicit: String?, report: (String) -> Void) throws -> Found {
        if let explicit {
            guard let missing = missingModules(explicit) else {
                throw CLIFailure(message: "cannot run the Python '\(explicit)' given with --python")
            }
            guard missing.isEmpty else {
                throw CLIFailure(message: "the Python '\(explicit)' lacks \(missing.joined(separator: ", ")): install "
                    + "them (pip install -r tools/finetune/requirements.txt) or leave out --python to use a managed one")
            }
            return Found(python: explicit)
        }
        var candidates: [String] = []
        if let env = ProcessInfo.processInfo.environment["MOECODER_PYTHON"] { candidates.append(env) }
        candidates += [venv + "/bin/python", "python3"]
        for candidate in candidates {
            if let missing = missingModules(candidate), missing.isEmpty { return Found(python: candidate) }
        }
        return try setUp(report: report)
    }

    /// The modules `python` cannot import; nil when it does not run at all.
    static func missingModules(_ python: String) -> [String]? {
        let code = "import importlib.util, sys; print(','.join(m for m in sys.argv[1:] if importlib.util.find_spec(m) is None))"
        guard let (status, output) = try? capture(python, ["-c", code] + modules), status == 0 else { return nil }
        return output.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ",").map(String.init)
    }

    static func setUp(report: (String) -> Void) throws -> Found {
        guard let requirements = Resources.locate("tools/finetune/requirements.txt") else {
            throw CLIFailure(message: "no Python with torch, transformers and gguf was found, and "
                + "tools/finetune/requirements.txt is not installed to set one up: pass --python")
        }
        report("no Python with torch, transformers and gguf found: setting up \(venv) (once; about 1 GB of "
               + "downloads, typically 3-10 minutes). Pass --python PATH to use an existing environment instead.")
        let python = venv + "/bin/python"
        if !FileManager.default.fileExists(atPath: python) {
            try FileManager.default.createDirectory(atPath: (venv as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            let made = try stream("python3", ["-m", "venv", venv], tail: 10)
            guard made.code == 0 else {
                throw CLIFailure(message: "could not create \(venv) with python3 -m venv:\n" + made.tail.joined(separator: "\n"))
            }
        }
        report("installing torch (CPU build) and the pinned packages of \(requirements)")
        let torch = try stream(python, ["-m", "pip", "install", "--index-url", "https://download.pytorch.org/whl/cpu",
                                        "torch==2.13.0"], tail: 10)
        if torch.code != 0 {
            report("torch from the PyTorch CPU index failed; trying the default index")
        }
        let installed = try stream(python, ["-m", "pip", "install", "-r", requirements], tail: 15)
        guard installed.code == 0, let missing = missingModules(python), missing.isEmpty else {
            throw CLIFailure(message: "setting up \(venv) failed; pip's last lines:\n" + installed.tail.joined(separator: "\n")
                + "\ninstall the packages of \(requirements) into a Python and pass it with --python")
        }
        return Found(python: python)
    }

    /// Runs a program (looked up on PATH) and returns its status and standard output.
    static func capture(_ program: String, _ arguments: [String]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [program] + arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Runs a program, copying its standard error (progress) and output lines to our standard error as they come;
    /// returns its status and last `tail` lines.
    /// Lines equal to one of `quiet` are kept for the tail but not shown.
    static func stream(_ program: String, _ arguments: [String], tail: Int,
                       quiet: Set<String> = []) throws -> (code: Int32, tail: [String]) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [program] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["PYTHONUNBUFFERED"] = "1"
        environment["PYTHONDONTWRITEBYTECODE"] = "1"
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch {
            throw CLIFailure(message: "cannot run \(program): \(error.localizedDescription)")
        }
        var last: [String] = [], pending = Data()
        let handle = pipe.fileHandleForReading
        while true {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            pending += chunk
            while let newline = pending.firstIndex(of: 0x0A) {
                let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                pending = Data(pending[(newline + 1)...])
                if !quiet.contains(line) { FileHandle.standardError.write(Data((line + "\n").utf8)) }
                last.append(line)
                if last.count > tail { last.removeFirst() }
            }
        }
        if !pending.isEmpty {
            let line = String(decoding: pending, as: UTF8.self)
            FileHandle.standardError.write(Data((line + "\n").utf8))
            last.append(line)
        }
        process.waitUntilExit()
        return (process.terminationStatus, last)
    }
}
