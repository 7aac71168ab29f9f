import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Where and how to reach a Hugging Face hub.
public struct HubConfiguration: Sendable {
    /// `https://huggingface.co`, a mirror, or a test server.
    public var endpoint: String
    /// A user access token, sent as `Authorization: Bearer` (private and gated repositories).
    public var token: String?
    /// A branch, tag or commit.
    public var revision: String
    /// Seconds without a byte before a request is given up.
    public var timeout: TimeInterval
    /// How many times in a row a broken download is resumed within one pull (a request that brought bytes starts
    /// the count again, so a long download on a flaky line goes on as long as it makes progress).
    public var retries: Int

    public init(endpoint: String? = nil, token: String? = nil, revision: String = "main", timeout: TimeInterval = 60,
                retries: Int = 3, environment: [String: String] = ProcessInfo.processInfo.environment) {
        var endpoint = endpoint ?? environment["HF_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 } ?? "https://huggingface.co"
        while endpoint.hasSuffix("/") { endpoint.removeLast() }
        self.endpoint = endpoint
        self.token = token ?? environment["HF_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        self.revision = revision
        self.timeout = timeout
        self.retries = retries
    }
}

/// A repository's files at one revision.
public struct RepoInfo: Sendable {
    /// The commit the revision resolved to (`sha`), when the hub said.
    public var commit: String?
    public var files: [RepoFile]
}

/// The hub's model API and file downloads.
public struct HubClient: Sendable {
    public var configuration: HubConfiguration

    public init(configuration: HubConfiguration) {
        self.configuration = configuration
    }

    static let pathCharacters: CharacterSet = {
        var set = CharacterSet.alphanumerics
        set.insert(charactersIn: "-._~")
        return set
    }()

    static func escape(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: pathCharacters) ?? text
    }

    /// `{endpoint}/api/models/{owner}/{repo}/revision/{revision}?blobs=true`.
    public func infoURL(_ reference: ModelReference) throws -> URL {
        try url("\(configuration.endpoint)/api/models/\(reference.owner)/\(reference.repo)/revision/"
            + "\(Self.escape(configuration.revision))?blobs=true")
    }

    /// `{endpoint}/{owner}/{repo}/resolve/{revision}/{file}`.
    public func resolveURL(_ reference: ModelReference, file: String, revision: String? = nil) throws -> URL {
        let path = file.split(separator: "/").map { Self.escape(String($0)) }.joined(separator: "/")
        return try url("\(configuration.endpoint)/\(reference.owner)/\(reference.repo)/resolve/"
            + "\(Self.escape(revision ?? configuration.revision))/\(path)")
    }

    func url(_ text: String) throws -> URL {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
              url.host != nil
        else { throw HubError("'\(configuration.endpoint)' is not an http(s) endpoint URL") }
        return url
    }

    func request(_ url: URL, accept: String? = nil) -> URLRequest {
        var request = URLRequest(url: url)
        request.httpMethod = "GET"
        request.setValue("moecoder/0.1", forHTTPHeaderField: "User-Agent")
        if let accept { request.setValue(accept, forHTTPHeaderField: "Accept") }
        if let token = configuration.token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        return request
    }

    /// The repository's files, with sizes and LFS checksums.
    public func info(_ reference: ModelReference) throws -> RepoInfo {
        let url = try infoURL(reference)
        let (response, body) = try transport(url) {
            try Transfer.run(request(url, accept: "application/json"), timeout: configuration.timeout)
        }
        guard response.statusCode == 200 else {
            throw failure(response, body: body, reference: reference, what: "the repository \(reference.id)")
        }
        guard let json = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
              let siblings = json["siblings"] as? [[String: Any]]
        else { throw HubError("\(configuration.endpoint) answered \(url.path) with something that is not a model's "
            + "file list (is --endpoint a Hugging Face hub?)") }
        let files = siblings.compactMap { sibling -> RepoFile? in
            guard let name = sibling["rfilename"] as? String else { return nil }
            let lfs = sibling["lfs"] as? [String: Any]
            let size = int64(lfs?["size"]) ?? int64(sibling["size"])
            let sha = (lfs?["sha256"] as? String ?? lfs?["oid"] as? String)?.lowercased()
            return RepoFile(name: name, size: size, sha256: sha.flatMap { Self.isHexDigest($0) ? $0 : nil })
        }
        return RepoInfo(commit: (json["sha"] as? String).flatMap { Self.isCommit($0) ? $0 : nil }, files: files)
    }

    static func isHexDigest(_ text: String) -> Bool { text.count == 64 && text.allSatisfy(\.isHexDigit) }
    static func isCommit(_ text: String) -> Bool { text.count == 40 && text.allSatisfy(\.isHexDigit) }

    /// Runs a request, turning transport failures into messages.
    func transport<T>(_ url: URL, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as TransportError {
            throw HubError("cannot reach \(url.host ?? configuration.endpoint): \(Self.describe(error.underlying))")
        }
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? URLError {
            switch error.code {
            case .cannotConnectToHost: return "connection refused"
            case .cannotFindHost, .dnsLookupFailed: return "unknown host"
            case .timedOut: return "timed out"
            case .notConnectedToInternet: return "not connected to the internet"
            case .networkConnectionLost: return "the connection was lost"
            case .secureConnectionFailed, .serverCertificateUntrusted, .serverCertificateHasBadDate,
                 .serverCertificateNotYetValid, .serverCertificateHasUnknownRoot:
                return "TLS failed (\(error.localizedDescription))"
            default: break
            }
        }
        var text = error.localizedDescription
        while text.hasSuffix(".") { text.removeLast() }
        return text
    }

    /// A message for a non-success HTTP answer.
    func failure(_ response: HTTPURLResponse, body: Data, reference: ModelReference, what: String) -> HubError {
        let status = response.statusCode
        let code = response.value(forHTTPHeaderField: "X-Error-Code")
        var detail = response.value(forHTTPHeaderField: "X-Error-Message")
        if detail == nil, let json = try? JSONSerialization.jsonObject(with: body) as? [String: Any] {
            detail = json["error"] as? String
        }
        let said = detail.map { " (the hub says: \($0))" } ?? ""
        let page = "\(configuration.endpoint)/\(reference.id)"
        switch status {
        case 401:
            if configuration.token == nil {
                return HubError("\(what) was not found or needs a login (HTTP 401)\(said): check the name, or for a "
                    + "private or gated model pass --token or set HF_TOKEN", status: status)
            }
            return HubError("\(what): the token was refused (HTTP 401)\(said): check --token / HF_TOKEN and that it "
                + "can read \(reference.id)", status: status)
        case 403:
            return HubError("\(what): access denied (HTTP 403)\(said): for a gated model, accept its terms at \(page) "
                + "with the account of your token", status: status)
        case 404:
            if code == "RevisionNotFound" {
                return HubError("revision '\(configuration.revision)' not found in \(reference.id) (HTTP 404)",
                                status: status)
            }
            return HubError("\(what) was not found at \(configuration.endpoint) (HTTP 404)\(said)", status: status)
        case 429:
            return HubError("\(what): rate limited by the hub (HTTP 429); try again later, or log in with --token",
                            status: status)
        default:
            return HubError("\(what): HTTP \(status) from \(response.url?.host ?? configuration.endpoint)\(said)",
                            status: status)
        }
    }
}
