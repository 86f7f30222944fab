import Foundation
import HTTPTypes
import Hummingbird

/// A request as the emulators see it: method, path, decoded query, headers and collected body.
struct APIRequest: Sendable {
    var method: String
    var path: String
    /// Query parameters in order, percent-decoded.
    var queryItems: [(String, String)]
    var rawQuery: String?
    /// Lower-cased header names → values (last wins).
    var headers: [String: String]
    var body: [UInt8]
    /// `http://HOST:PORT` as the client addressed us.
    var baseURL: String

    func query(_ name: String) -> String? {
        for (k, v) in queryItems where k == name { return v }
        return nil
    }

    func header(_ name: String) -> String? { headers[name] }

    /// The body as a JSON object, or nil.
    var jsonObject: [String: JSONValue]? {
        JSONValue.parse(body)?.objectValue
    }

    /// Form-encoded body fields.
    var formFields: [String: String] {
        var out: [String: String] = [:]
        for (k, v) in Self.parseQuery(String(decoding: body, as: UTF8.self), plusIsSpace: true) where out[k] == nil {
            out[k] = v
        }
        return out
    }

    static func parseQuery(_ text: String, plusIsSpace: Bool) -> [(String, String)] {
        guard !text.isEmpty else { return [] }
        var out: [(String, String)] = []
        for part in text.split(separator: "&", omittingEmptySubsequences: true) {
            let pieces = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = decode(String(pieces[0]), plusIsSpace: plusIsSpace)
            let value = pieces.count > 1 ? decode(String(pieces[1]), plusIsSpace: plusIsSpace) : ""
            out.append((name, value))
        }
        return out
    }

    static func decode(_ s: String, plusIsSpace: Bool) -> String {
        let t = plusIsSpace ? s.replacingOccurrences(of: "+", with: " ") : s
        return t.removingPercentEncoding ?? t
    }
}

extension APIRequest {
    /// The request as the emulators see it: headers by lower-cased name (repeated ones joined with `, `),
    /// the query decoded, the collected body.
    init(_ request: Request, body: ByteBuffer) {
        var headers: [String: String] = [:]
        for field in request.headers {
            let name = field.name.canonicalName
            if let earlier = headers[name] {
                headers[name] = earlier + ", " + field.value
            } else {
                headers[name] = field.value
            }
        }
        let host = headers["host"] ?? request.head.authority ?? "127.0.0.1"
        let rawQuery = request.uri.query
        self.init(
            method: request.method.rawValue, path: request.uri.path,
            queryItems: APIRequest.parseQuery(rawQuery ?? "", plusIsSpace: true), rawQuery: rawQuery,
            headers: headers, body: Array(buffer: body), baseURL: "http://" + host)
    }
}

/// An answer of an emulator before it becomes an HTTP response.
struct APIResponse: Sendable, Error {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]
    /// A JSON answer not yet serialised (done outside the state lock).
    var payload: JSONValue?

    init(status: Int, headers: [(String, String)], body: [UInt8], payload: JSONValue? = nil) {
        self.status = status
        self.headers = headers
        self.body = body
        self.payload = payload
    }

    static func json(_ status: Int, _ value: JSONValue, headers: [(String, String)] = []) -> APIResponse {
        APIResponse(
            status: status, headers: [("Content-Type", "application/json; charset=UTF-8")] + headers, body: [],
            payload: value)
    }

    /// A JSON answer of a `Codable` body (keys sorted, as the providers' bodies are compared in tests).
    static func encoded(_ status: Int, _ value: some Encodable, headers: [(String, String)] = []) -> APIResponse {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return APIResponse(
            status: status, headers: [("Content-Type", "application/json; charset=UTF-8")] + headers,
            body: (try? encoder.encode(value)).map(Array.init) ?? [])
    }

    static func empty(_ status: Int) -> APIResponse {
        APIResponse(status: status, headers: [], body: [])
    }

    /// The body bytes, serialising a pending JSON payload.
    var bytes: [UInt8] { payload?.bytes ?? body }

    /// The HTTP response.
    var httpResponse: Response {
        var fields = HTTPFields()
        for (name, value) in headers {
            if let n = HTTPField.Name(name) { fields.append(HTTPField(name: n, value: value)) }
        }
        return Response(
            status: HTTPResponse.Status(code: status), headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

extension APIResponse: ResponseGenerator {
    /// The HTTP response of a route's answer.
    func response(from request: Request, context: some RequestContext) -> Response { httpResponse }
}

/// Percent-encoding for URLs the emulators build (Graph next/delta links).
enum URLText {
    static let unreserved: CharacterSet = {
        var s = CharacterSet.alphanumerics
        s.insert(charactersIn: "-._~")
        return s
    }()

    static func encode(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: unreserved) ?? s
    }
}
