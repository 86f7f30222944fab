/// A calendar object calsync cannot read or write: a stable code and a message a person can act on (never the object's text).
package struct ICalError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, stable enough for a metric label or a dead-letter reason.
    package struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        /// The code's text.
        package var rawValue: String
        /// Creates a code from its text.
        package init(rawValue: String) { self.rawValue = rawValue }
        /// The code's text.
        package var description: String { rawValue }

        /// The text is longer than ``ICalLimits/maxBytes``.
        package static let tooLarge = Code(rawValue: "ical_too_large")
        /// Components nest deeper than ``ICalLimits/maxDepth``.
        package static let tooDeep = Code(rawValue: "ical_too_deep")
        /// More components than ``ICalLimits/maxComponents``.
        package static let tooManyComponents = Code(rawValue: "ical_too_many_components")
        /// The text is not iCalendar at all (libical found no calendar in it, or it holds a NUL byte).
        package static let notICalendar = Code(rawValue: "ical_not_icalendar")
        /// An event lacks what it needs (DTSTART) or holds a value libical cannot read.
        package static let malformed = Code(rawValue: "ical_malformed")
        /// A recurrence yields more than ``ICalLimits/maxOccurrences`` or needs more than ``ICalLimits/maxIterations`` steps.
        package static let tooManyOccurrences = Code(rawValue: "ical_too_many_occurrences")
        /// A recurrence rule calsync refuses (SECONDLY or MINUTELY: no calendar event repeats that often).
        package static let unsupportedRecurrence = Code(rawValue: "ical_unsupported_recurrence")
        /// libical could not produce the text of an event to export.
        package static let renderFailed = Code(rawValue: "ical_render_failed")
    }

    /// What went wrong.
    package var code: Code
    /// What went wrong and what to do, without the object's content.
    package var message: String

    /// Creates an error.
    package init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// `code: message`.
    package var description: String { "\(code.rawValue): \(message)" }
}
