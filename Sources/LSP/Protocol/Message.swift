import Foundation

/// A JSON-RPC request id: a number or a string.
public enum RequestID: Hashable, Sendable, Codable, CustomStringConvertible {
    case number(Int)
    case string(String)

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let n = try? container.decode(Int.self) { self = .number(n) } else { self = .string(try container.decode(String.self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .number(let n): try container.encode(n)
        case .string(let s): try container.encode(s)
        }
    }

    init?(_ json: JSONValue?) {
        switch json {
        case .number(let n) where n == n.rounded() && abs(n) < 1e15: self = .number(Int(n))
        case .string(let s): self = .string(s)
        default: return nil
        }
    }

    public var json: JSONValue {
        switch self {
        case .number(let n): .number(Double(n))
        case .string(let s): .string(s)
        }
    }

    public var description: String {
        switch self {
        case .number(let n): "\(n)"
        case .string(let s): "\"\(s)\""
        }
    }
}

/// A JSON-RPC error object. The codes are JSON-RPC 2.0's and LSP's.
public struct ResponseError: Error, Sendable, Equatable, Codable {
    public var code: Int
    public var message: String
    public var data: JSONValue?

    public init(code: Int, message: String, data: JSONValue? = nil) {
        self.code = code
        self.message = message
        self.data = data
    }

    public static func parseError(_ message: String) -> Self { .init(code: -32700, message: message) }
    public static func invalidRequest(_ message: String) -> Self { .init(code: -32600, message: message) }
    public static func methodNotFound(_ method: String) -> Self {
        .init(code: -32601, message: "method not found: \(method)")
    }
    public static func invalidParams(_ message: String) -> Self { .init(code: -32602, message: message) }
    public static func internalError(_ message: String) -> Self { .init(code: -32603, message: message) }
    public static let serverNotInitialized = Self(code: -32002, message: "the server is not initialized yet: "
                                                  + "send initialize first")
    public static let requestCancelled = Self(code: -32800, message: "request cancelled")
    public static func requestFailed(_ message: String) -> Self { .init(code: -32803, message: message) }
}

/// One message read off the wire, after its JSON was checked against JSON-RPC 2.0's shapes.
public enum IncomingMessage: Sendable, Equatable {
    case request(id: RequestID, method: String, params: JSONValue?)
    case notification(method: String, params: JSONValue?)
    case response(id: RequestID?, result: JSONValue?, error: ResponseError?)

    /// Classifies a parsed JSON body; the error carries the id to answer with when one could be read.
    public static func classify(_ json: JSONValue) -> Result<IncomingMessage, InvalidMessage> {
        guard case .object(let object) = json else {
            return .failure(InvalidMessage(id: nil, error: .invalidRequest("a message must be a JSON object "
                                                                            + "(batches are not used by LSP)")))
        }
        let rawID = object["id"]
        let id = RequestID(rawID)
        if rawID != nil, rawID != .null, id == nil {
            return .failure(InvalidMessage(id: nil, error: .invalidRequest("id must be a number or a string")))
        }
        guard object["jsonrpc"] == "2.0" else {
            return .failure(InvalidMessage(id: id, error: .invalidRequest("jsonrpc must be \"2.0\"")))
        }
        let params = object["params"]
        if let params, params != .null {
            switch params {
            case .object, .array: break
            default: return .failure(InvalidMessage(id: id, error: .invalidRequest("params must be an object or an array")))
            }
        }
        if let methodValue = object["method"] {
            guard case .string(let method) = methodValue else {
                return .failure(InvalidMessage(id: id, error: .invalidRequest("method must be a string")))
            }
            if let id { return .success(.request(id: id, method: method, params: params)) }
            if rawID == .null {
                return .failure(InvalidMessage(id: nil, error: .invalidRequest("a request id must not be null")))
            }
            return .success(.notification(method: method, params: params))
        }
        if object["result"] != nil || object["error"] != nil {
            let error = try? object["error"]?.decode(ResponseError.self)
            return .success(.response(id: id, result: object["result"], error: error))
        }
        return .failure(InvalidMessage(id: id, error: .invalidRequest("a message needs a method (request or "
                                                                       + "notification) or a result or error (response)")))
    }
}

/// A message that is valid JSON but not valid JSON-RPC.
public struct InvalidMessage: Error, Sendable, Equatable {
    public var id: RequestID?
    public var error: ResponseError
}

/// Builds outgoing JSON-RPC messages.
public enum OutgoingMessage {
    public static func response(id: RequestID?, result: JSONValue) -> JSONValue {
        ["jsonrpc": "2.0", "id": id?.json ?? .null, "result": result]
    }

    public static func error(id: RequestID?, _ error: ResponseError) -> JSONValue {
        var body: JSONValue = ["code": .number(Double(error.code)), "message": .string(error.message)]
        if let data = error.data, case .object(var o) = body { o["data"] = data; body = .object(o) }
        return ["jsonrpc": "2.0", "id": id?.json ?? .null, "error": body]
    }

    public static func notification(method: String, params: JSONValue) -> JSONValue {
        ["jsonrpc": "2.0", "method": .string(method), "params": params]
    }

    public static func request(id: RequestID, method: String, params: JSONValue) -> JSONValue {
        ["jsonrpc": "2.0", "id": id.json, "method": .string(method), "params": params]
    }
}
