import Foundation

#if canImport(FoundationXML)
import FoundationXML
#endif

/// One `<response>` of a WebDAV `207 Multi-Status` answer: its href, its status (sync-collection reports a
/// removed member as 404) and the properties found (status 200 only), by `namespace + local name`.
struct DAVResponse: Sendable {
    /// The `href`, as the server wrote it (percent-encoded path or absolute URL).
    var href: String
    /// The response-level status code, when given (`HTTP/1.1 404 Not Found` → 404).
    var status: Int?
    /// The properties whose propstat said 200.
    var properties: [DAVName: DAVProperty] = [:]

    /// A property by name.
    subscript(_ name: DAVName) -> DAVProperty? { properties[name] }
}

/// A namespaced XML element name.
struct DAVName: Hashable, Sendable {
    var namespace: String
    var local: String

    static let dav = "DAV:"
    static let caldav = "urn:ietf:params:xml:ns:caldav"
    static let calendarServer = "http://calendarserver.org/ns/"

    static func d(_ local: String) -> DAVName { DAVName(namespace: dav, local: local) }
    static func c(_ local: String) -> DAVName { DAVName(namespace: caldav, local: local) }
}

/// What calsync reads of one property: its text, the `href`s inside it, the names of its child elements
/// (e.g. `resourcetype`, privileges), and the `name` attributes of `comp` children.
struct DAVProperty: Sendable {
    var text = ""
    var hrefs: [String] = []
    var childNames: Set<DAVName> = []
    var components: [String] = []
}

/// A parsed multistatus answer.
struct DAVMultistatus: Sendable {
    var responses: [DAVResponse] = []
    /// The `sync-token` of a sync-collection answer.
    var syncToken: String?
}

/// Parses WebDAV multistatus XML with Foundation's `XMLParser` (namespace aware), keeping bounded text.
final class DAVMultistatusParser: NSObject, XMLParserDelegate {
    private var result = DAVMultistatus()
    private var path: [DAVName] = []
    private var current: DAVResponse?
    private var propstat: [DAVName: DAVProperty] = [:]
    private var propstatStatus: Int?
    private var property: (name: DAVName, value: DAVProperty)?
    private var text = ""
    private static let maxText = 1 << 20

    /// Parses `data`; nil when it is not well-formed XML.
    static func parse(_ data: Data) -> DAVMultistatus? {
        let parser = XMLParser(data: data)
        parser.shouldProcessNamespaces = true
        parser.shouldResolveExternalEntities = false
        let delegate = DAVMultistatusParser()
        parser.delegate = delegate
        guard parser.parse() else { return nil }
        return delegate.result
    }

    func parser(
        _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName qName: String?,
        attributes attributeDict: [String: String] = [:]
    ) {
        let name = DAVName(namespace: namespaceURI ?? "", local: elementName)
        let depth = path.count
        path.append(name)
        text = ""
        switch (name.namespace, name.local) {
        case (DAVName.dav, "response") where depth == 1:
            current = DAVResponse(href: "")
        case (DAVName.dav, "propstat") where current != nil:
            propstat = [:]
            propstatStatus = nil
        default:
            break
        }
        // A property: the child of `prop`.
        if depth >= 1, path[depth - 1] == .d("prop"), current != nil {
            property = (name, DAVProperty())
        } else if property != nil {
            property?.value.childNames.insert(name)
            if name == .c("comp"), let comp = attributeDict["name"] { property?.value.components.append(comp.uppercased()) }
        }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if text.utf8.count < Self.maxText { text += string }
    }

    func parser(_ parser: XMLParser, foundCDATA CDATABlock: Data) {
        if text.utf8.count < Self.maxText { text += String(decoding: CDATABlock, as: UTF8.self) }
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?) {
        let name = DAVName(namespace: namespaceURI ?? "", local: elementName)
        let value = Self.trimmed(text)
        defer {
            path.removeLast()
            text = ""
        }
        if let open = property {
            if open.name == name, path.count >= 2, path[path.count - 2] == .d("prop") {
                var done = open.value
                if done.text.isEmpty { done.text = value }
                propstat[name] = done
                property = nil
            } else if name == .d("href") {
                property?.value.hrefs.append(value)
            } else if open.value.text.isEmpty, !value.isEmpty, name.local != "href" {
                // Text of a nested element (e.g. `<C:calendar-data>` has none): kept for simple properties.
                property?.value.text = value
            }
            return
        }
        switch (name.namespace, name.local) {
        case (DAVName.dav, "href") where current != nil && path.count == 3:
            current?.href = value
        case (DAVName.dav, "status") where current != nil && path.count == 3:
            current?.status = Self.statusCode(value)
        case (DAVName.dav, "status") where current != nil:
            propstatStatus = Self.statusCode(value)
        case (DAVName.dav, "propstat") where current != nil:
            if propstatStatus == nil || propstatStatus == 200 {
                current?.properties.merge(propstat) { first, _ in first }
            }
        case (DAVName.dav, "response") where current != nil && path.count == 2:
            if let done = current { result.responses.append(done) }
            current = nil
        case (DAVName.dav, "sync-token") where path.count == 2:
            result.syncToken = value
        default:
            break
        }
    }

    /// `text` without leading and trailing white space (Unicode White_Space, newlines included), as
    /// `trimmingCharacters(in: .whitespacesAndNewlines)` gives it, without its detour through UTF-16 (which took
    /// most of the time of parsing an answer with 10,000 objects' data).
    static func trimmed(_ text: String) -> String {
        let scalars = text.unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
            let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        if first == scalars.startIndex, scalars.index(after: last) == scalars.endIndex { return text }
        return String(scalars[first...last])
    }

    /// `HTTP/1.1 404 Not Found` → 404.
    static func statusCode(_ line: String) -> Int? {
        let parts = line.split(separator: " ")
        guard parts.count >= 2 else { return nil }
        return Int(parts[1])
    }
}
