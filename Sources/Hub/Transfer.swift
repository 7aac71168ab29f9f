import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A transport failure (no HTTP answer, or the connection broke mid-body).
struct TransportError: Error {
    var underlying: any Error
    /// Body bytes that arrived before the failure.
    var received: Int64
}

/// One HTTP request run to the end synchronously: the body is streamed to `onData` once `onResponse` accepts the
/// response, otherwise kept in memory (a small error page). Redirects are followed; `Authorization` is only sent to
/// the host of the first request (the hub's CDN URLs are signed and refuse a second credential).
final class Transfer: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    // Touched on the session's serial delegate queue only, then read after `finished` is signalled.
    private var onResponse: (HTTPURLResponse) throws -> Bool
    private var onData: (Data) throws -> Void
    private var streaming = false
    private var response: HTTPURLResponse?
    private var body = Data()
    private var received: Int64 = 0
    private var failure: (any Error)?
    private var aborted: (any Error)?
    private let originalHost: String?
    private let finished = DispatchSemaphore(value: 0)

    private init(request: URLRequest, onResponse: @escaping (HTTPURLResponse) throws -> Bool,
                 onData: @escaping (Data) throws -> Void) {
        self.onResponse = onResponse
        self.onData = onData
        self.originalHost = request.url?.host?.lowercased()
    }

    /// Runs `request`; returns the final response and, when `onResponse` declined the body, the body.
    static func run(_ request: URLRequest, timeout: TimeInterval,
                    onResponse: @escaping (HTTPURLResponse) throws -> Bool = { _ in false },
                    onData: @escaping (Data) throws -> Void = { _ in }) throws -> (HTTPURLResponse, Data) {
        let transfer = Transfer(request: request, onResponse: onResponse, onData: onData)
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = 7 * 24 * 3600
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        configuration.urlCache = nil
        let queue = OperationQueue()
        queue.maxConcurrentOperationCount = 1
        let session = URLSession(configuration: configuration, delegate: transfer, delegateQueue: queue)
        let task = session.dataTask(with: request)
        task.resume()
        transfer.finished.wait()
        session.finishTasksAndInvalidate()
        if let aborted = transfer.aborted { throw aborted }
        if let failure = transfer.failure { throw TransportError(underlying: failure, received: transfer.received) }
        guard let response = transfer.response else {
            throw TransportError(underlying: URLError(.badServerResponse), received: 0)
        }
        return (response, transfer.body)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping @Sendable (URLSession.ResponseDisposition) -> Void) {
        guard let http = response as? HTTPURLResponse else {
            aborted = HubError("the server's answer is not HTTP")
            completionHandler(.cancel)
            return
        }
        self.response = http
        do {
            streaming = try onResponse(http)
            completionHandler(.allow)
        } catch {
            aborted = error
            completionHandler(.cancel)
        }
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        guard aborted == nil else { return }
        received += Int64(data.count)
        if streaming {
            do { try onData(data) } catch {
                aborted = error
                dataTask.cancel()
            }
        } else if body.count < 1 << 20 {
            body.append(data)
        }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void) {
        guard let url = request.url else { return completionHandler(nil) }
        var next = URLRequest(url: url)
        next.httpMethod = task.originalRequest?.httpMethod ?? "GET"
        for (field, value) in task.originalRequest?.allHTTPHeaderFields ?? [:] {
            if field.lowercased() == "authorization" && url.host?.lowercased() != originalHost { continue }
            next.setValue(value, forHTTPHeaderField: field)
        }
        completionHandler(next)
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
        if aborted == nil, let error { failure = error }
        // A body cut short without a transport error (a server that closes early on a chunked answer).
        if aborted == nil, failure == nil, streaming, let response, response.expectedContentLength > 0,
           received < response.expectedContentLength {
            failure = URLError(.networkConnectionLost)
        }
        finished.signal()
    }
}
