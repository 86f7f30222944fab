import CLibical
import Foundation
import Synchronization

/// The one gate to libical: its timezone cache and error state are process-wide, so calls run one at a time.
enum LibICal {
    /// Guards every libical call; the flag says whether the library was set up.
    private static let gate = Mutex<Bool>(false)

    /// Runs `body` alone in libical, with errors made non-fatal (libical must never abort the worker) and `icalerrno` cleared.
    static func run<T: Sendable>(_ body: () throws(ICalError) -> T) throws(ICalError) -> T {
        let result: Result<T, ICalError> = gate.withLock { configured in
            if !configured {
                icalerror_set_errors_are_fatal(0)
                configured = true
            }
            icalerror_clear_errno()
            do throws(ICalError) {
                return .success(try body())
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// libical's description of its current error, or nil when none is set.
    static func currentError() -> String? {
        let code = calsync_ical_errno()
        guard code != ICAL_NO_ERROR, let text = icalerror_strerror(code) else { return nil }
        return String(cString: text)
    }

    /// Refuses text that could make libical slow or deep before libical sees it: size, NUL bytes, nesting, component count.
    static func preflight(_ text: String, limits: ICalLimits) throws(ICalError) {
        let count = text.utf8.count
        guard count <= limits.maxBytes else {
            throw ICalError(.tooLarge, "the calendar object has \(count) bytes; calsync reads at most \(limits.maxBytes)")
        }
        let verdict: ICalError? = text.utf8.withContiguousStorageIfAvailable { scan($0, limits: limits) }
            ?? Array(text.utf8).withUnsafeBufferPointer { scan($0, limits: limits) }
        if let verdict { throw verdict }
    }

    /// The scan of ``preflight(_:limits:)`` over the bytes; nil when they pass.
    private static func scan(_ bytes: UnsafeBufferPointer<UInt8>, limits: ICalLimits) -> ICalError? {
        var depth = 0
        var components = 0
        var index = 0
        let end = bytes.count
        while index < end {
            // At the start of a line (a folded continuation starts with a space, so never matches).
            if matches(bytes, at: index, "BEGIN:") {
                depth += 1
                components += 1
                if depth > limits.maxDepth {
                    return ICalError(.tooDeep, "components nest more than \(limits.maxDepth) deep; a calendar object nests 3")
                }
                if components > limits.maxComponents {
                    return ICalError(.tooManyComponents, "the calendar object holds more than \(limits.maxComponents) components")
                }
            } else if matches(bytes, at: index, "END:") {
                depth = max(0, depth - 1)
            }
            while index < end && bytes[index] != 0x0A {
                if bytes[index] == 0 {
                    return ICalError(.notICalendar, "the text holds a NUL byte: it is not iCalendar")
                }
                index += 1
            }
            index += 1
        }
        return nil
    }

    /// Whether `bytes` hold `word` (ASCII, case-insensitively) at `index`.
    private static func matches(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int, _ word: StaticString) -> Bool {
        let length = word.utf8CodeUnitCount
        guard index + length <= bytes.count else { return false }
        let pattern = word.utf8Start
        for offset in 0..<length where bytes[index + offset] & 0xDF != pattern[offset] & 0xDF {
            return false
        }
        return true
    }

    /// Parses text (already through ``preflight(_:limits:)``) and hands the root component to `body`, freeing it afterwards.
    static func withParsed<T>(_ text: String, _ body: (OpaquePointer) throws(ICalError) -> T) throws(ICalError) -> T {
        guard let root = text.withCString({ icalparser_parse_string($0) }) else {
            let detail = currentError().map { " (libical: \($0))" } ?? ""
            throw ICalError(.notICalendar, "libical found no calendar in the text\(detail)")
        }
        defer { icalcomponent_free(root) }
        let kind = icalcomponent_isa(root)
        guard kind == ICAL_VCALENDAR_COMPONENT || kind == ICAL_VEVENT_COMPONENT || kind == ICAL_XROOT_COMPONENT else {
            throw ICalError(.notICalendar, "the text is not a VCALENDAR")
        }
        return try body(root)
    }

    /// The VEVENTs of a parsed root: itself, its children, or its calendars' children.
    static func events(of root: OpaquePointer) -> [OpaquePointer] {
        switch icalcomponent_isa(root) {
        case ICAL_VEVENT_COMPONENT:
            return [root]
        case ICAL_VCALENDAR_COMPONENT:
            return children(of: root, ICAL_VEVENT_COMPONENT)
        default:
            return children(of: root, ICAL_VCALENDAR_COMPONENT).flatMap { children(of: $0, ICAL_VEVENT_COMPONENT) }
        }
    }

    /// The direct children of `component` of one kind.
    static func children(of component: OpaquePointer, _ kind: icalcomponent_kind) -> [OpaquePointer] {
        var found: [OpaquePointer] = []
        var child = icalcomponent_get_first_component(component, kind)
        while let current = child {
            found.append(current)
            child = icalcomponent_get_next_component(component, kind)
        }
        return found
    }

    /// The properties of `component` of one kind.
    static func properties(of component: OpaquePointer, _ kind: icalproperty_kind) -> [OpaquePointer] {
        var found: [OpaquePointer] = []
        var property = icalcomponent_get_first_property(component, kind)
        while let current = property {
            found.append(current)
            property = icalcomponent_get_next_property(component, kind)
        }
        return found
    }

    /// The value of the x-property named `name` (case-insensitively), if `component` has one.
    static func xProperty(of component: OpaquePointer, named name: String) -> String? {
        for property in properties(of: component, ICAL_X_PROPERTY) {
            guard let xName = icalproperty_get_x_name(property),
                  String(cString: xName).caseInsensitiveCompare(name) == .orderedSame
            else { continue }
            return icalproperty_get_x(property).map { String(cString: $0) } ?? ""
        }
        return nil
    }

    /// The TZID parameter of a property, if any.
    static func tzid(of property: OpaquePointer) -> String? {
        guard let parameter = icalproperty_get_first_parameter(property, ICAL_TZID_PARAMETER),
              let text = icalparameter_get_tzid(parameter)
        else { return nil }
        return String(cString: text)
    }

    /// libical's builtin zone of an IANA name, or nil. Only a plausible name reaches libical: it reads the zone's file
    /// under the system's zoneinfo folder, so a hostile TZID such as `../../dev/stdin` must never become a path.
    static func builtinZone(_ name: String) -> OpaquePointer? {
        let allowed = name.utf8.allSatisfy { byte in
            (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39)
                || byte == 0x2F || byte == 0x5F || byte == 0x2D || byte == 0x2B
        }
        guard allowed, !name.isEmpty, name.utf8.count <= 64, !name.hasPrefix("/"), !name.contains("//"),
              !name.split(separator: "/").contains(where: { $0.hasPrefix("-") || $0.hasPrefix("+") })
        else { return nil }
        let zone = icaltimezone_get_builtin_timezone(name)
        if zone == nil { icalerror_clear_errno() }  // an unknown name leaves a file error behind; it is no error here
        return zone
    }

    /// The UID of a component, if any.
    static func uid(of component: OpaquePointer) -> String? {
        guard let property = icalcomponent_get_first_property(component, ICAL_UID_PROPERTY),
              let text = icalproperty_get_uid(property)
        else { return nil }
        return String(cString: text)
    }
}
