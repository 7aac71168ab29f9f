import ArgumentParser
import Foundation
import Syntax

/// The `moecoder` command: one subcommand per file in this folder.
struct MoECoder: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "moecoder",
        abstract: "A self-hosted code assistant: syntax-aware completion, test generation and repair.",
        discussion: """
            Exit status: 0 on success, 1 when the command ran but found problems (e.g. syntax errors), \
            2 on bad usage or unreadable input.
            """,
        version: "0.1.0",
        subcommands: [Parse.self, Generate.self, Tokenize.self, Logits.self, Info.self, Bench.self, Complete.self,
                      Testgen.self, Repair.self, LSPCommand.self, Serve.self, Quantize.self, Imatrix.self, Eval.self, Chat.self,
                      Pull.self, Models.self, LoRACommand.self, Augment.self, Finetune.self]
    )
}

/// Entry point: maps argument errors to exit status 2 (the documented "bad usage"), instead of
/// ArgumentParser's default 64, and never lets an error escape as a crash.
@main
enum Main {
    static func main() {
        do {
            var command = try MoECoder.parseAsRoot()
            try command.run()
        } catch let exit as ExitCode {
            Foundation.exit(exit.rawValue)
        } catch let failure as CLIFailure {
            warn(failure.message)
            Foundation.exit(failure.status)
        } catch let failure as SyntaxLayerError {
            warn(failure.description)
            Foundation.exit(2)
        } catch {
            // Help and version requests, and malformed arguments. ArgumentParser's usage status is 64; ours is 2.
            if MoECoder.exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data("\(MoECoder.fullMessage(for: error))\n".utf8))
                Foundation.exit(2)
            }
            MoECoder.exit(withError: error)
        }
    }
}

/// An error a command reports to the user with a given exit status.
struct CLIFailure: Error {
    var message: String
    var status: Int32 = 2
}

/// Why a file could not be read, in a few words ("no such file", "permission denied", …).
func readFailure(_ error: any Error) -> String {
    let error = error as NSError
    if error.domain == NSCocoaErrorDomain {
        switch error.code {
        case NSFileReadNoSuchFileError, NSFileNoSuchFileError: return "no such file"
        case NSFileReadNoPermissionError: return "permission denied"
        default: break
        }
    }
    if error.domain == NSPOSIXErrorDomain, let code = POSIXErrorCode(rawValue: Int32(error.code)) {
        switch code {
        case .ENOENT: return "no such file"
        case .EACCES, .EPERM: return "permission denied"
        case .EISDIR: return "it is a folder"
        default: break
        }
    }
    var text = error.localizedDescription
    while text.hasSuffix(".") { text.removeLast() }
    return text
}

/// Writes a line to standard error.
func warn(_ message: String) {
    FileHandle.standardError.write(Data("moecoder: \(message)\n".utf8))
}
