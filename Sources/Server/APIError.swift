import Foundation
import Hummingbird

/// An error answered with an OpenAI-style body: `{"error": {"message", "type", "code", "param"}}`.
public struct APIError: Error, HTTPResponseError, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var message: String
    public var type: String
    public var code: String?
    public var param: String?
    public var retryAfter: Int?

    public init(_ status: HTTPResponse.Status, _ message: String, type: String = "invalid_request_error",
                code: String? = nil, param: String? = nil, retryAfter: Int? = nil) {
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.retryAfter = retryAfter
    }

    public var description: String { "\(status.code) \(message)" }

    static func badRequest(_ message: String, param: String? = nil) -> APIError {
        APIError(.badRequest, message, code: "invalid_value", param: param)
    }

    var body: [String: Any] {
        var error: [String: Any] = ["message": message, "type": type]
        error["code"] = code ?? NSNull()
        error["param"] = param ?? NSNull()
        return ["error": error]
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = JSONResponse.make(body, status: status)
        if let retryAfter { response.headers[.retryAfter] = "\(retryAfter)" }
        if status == .unauthorized { response.headers[.wwwAuthenticate] = "Bearer" }
        return response
    }
}

enum JSONResponse {
    static func data(_ object: Any) -> Data {
        if let bytes = JSONWriter.encode(object) { return Data(bytes) }
        return (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
    }

    static func make(_ object: Any, status: HTTPResponse.Status = .ok) -> Response {
        let data = data(object)
        return Response(status: status, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func make<T: Encodable>(encodable: T) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(encodable)
        return Response(status: .ok, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// A request's JSON object with typed accessors that say exactly which field is wrong and how.
struct JSONBody {
    let object: [String: Any]

    init(_ buffer: ByteBuffer) throws {
        let bytes = buffer.getBytes(at: buffer.readerIndex, length: buffer.readableBytes) ?? []
        guard !bytes.isEmpty else { throw APIError.badRequest("the request body is empty: send a JSON object") }
        let parsed: Any
        do { parsed = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]) } catch {
            throw APIError(.badRequest, "the request body is not valid JSON: \(error.localizedDescription)",
                           code: "invalid_json")
        }
        guard let object = parsed as? [String: Any] else {
            throw APIError.badRequest("the request body must be a JSON object ({...})")
        }
        self.object = object
    }

    func has(_ key: String) -> Bool { object[key] != nil && !(object[key] is NSNull) }

    func string(_ key: String) throws -> String? {
        guard has(key) else { return nil }
        guard let value = object[key] as? String else { throw APIError.badRequest("'\(key)' must be a string", param: key) }
        return value
    }

    func bool(_ key: String) throws -> Bool? {
        guard has(key) else { return nil }
        guard let number = object[key] as? NSNumber, isBool(number) else {
            throw APIError.badRequest("'\(key)' must be true or false", param: key)
        }
        return number.boolValue
    }

    func isBool(_ number: NSNumber) -> Bool { String(cString: number.objCType) == "c" }

    func int(_ key: String, in range: ClosedRange<Int>) throws -> Int? {
        guard has(key) else { return nil }
        guard let number = object[key] as? NSNumber, !isBool(number),
              let value = Int(exactly: number.doubleValue) else {
            throw APIError.badRequest("'\(key)' must be an integer", param: key)
        }
        guard range.contains(value) else {
            throw APIError.badRequest("'\(key)' is \(value); it must be between \(range.lowerBound) and \(range.upperBound)", param: key)
        }
        return value
    }

    func double(_ key: String, in range: ClosedRange<Double>) throws -> Double? {
        guard has(key) else { return nil }
        guard let number = object[key] as? NSNumber, !isBool(number) else {
            throw APIError.badRequest("'\(key)' must be a number", param: key)
        }
        let value = number.doubleValue
        guard range.contains(value) else {
            throw APIError.badRequest("'\(key)' is \(value); it must be between \(range.lowerBound) and \(range.upperBound)", param: key)
        }
        return value
    }

    /// A string or an array of strings (OpenAI's `stop`).
    func strings(_ key: String, max: Int) throws -> [String] {
        guard has(key) else { return [] }
        if let one = object[key] as? String { return one.isEmpty ? [] : [one] }
        guard let many = object[key] as? [Any], many.allSatisfy({ $0 is String }) else {
            throw APIError.badRequest("'\(key)' must be a string or an array of strings", param: key)
        }
        guard many.count <= max else { throw APIError.badRequest("'\(key)' has \(many.count) entries; at most \(max)", param: key) }
        return (many as! [String]).filter { !$0.isEmpty }
    }

    /// Token ids given as an array of integers.
    func tokens(_ key: String) throws -> [Int32]? {
        guard let array = object[key] as? [Any] else { return nil }
        var tokens: [Int32] = []
        for item in array {
            guard let number = item as? NSNumber, !isBool(number), let id = Int32(exactly: number.doubleValue) else { return nil }
            tokens.append(id)
        }
        return tokens
    }
}
