import Foundation

extension LanguageServer {
    /// Serves LSP on standard input and output until `exit` or end of input; returns the exit status
    /// (0 after shutdown, 1 otherwise, as the specification asks).
    ///
    /// Standard output is moved to a private descriptor first and fd 1 pointed at standard error, so that
    /// nothing but framed messages can ever reach the client.
    public static func runStdio(configuration: Configuration, warmUp: (@Sendable () -> Void)? = nil) -> Int32 {
        let messages = dup(STDOUT_FILENO)
        dup2(STDERR_FILENO, STDOUT_FILENO)
        let server = LanguageServer(sink: FileDescriptorSink(fd: messages), configuration: configuration)
        if let warmUp { server.modelQueue.run(warmUp) }
        FrameReader.run(fd: STDIN_FILENO) { server.handle($0) }
        if let code = server.exitCode { return code }
        configuration.log("end of input without exit")
        return server.state == .shuttingDown ? 0 : 1
    }
}
