/// Bounds on the work one calendar object may cause; input past them is refused with an ``ICalError``.
package struct ICalLimits: Sendable, Hashable {
    /// Longest text read, in UTF-8 bytes (default 1 MiB: a real event with a few hundred overrides is a few dozen KiB).
    package var maxBytes: Int
    /// Deepest nesting of BEGIN/END (default 6; VCALENDAR › VTIMEZONE › STANDARD is 3, VCALENDAR › VEVENT › VALARM is 3).
    package var maxDepth: Int
    /// Most components (BEGIN lines) in one object (default 5,000).
    package var maxComponents: Int
    /// Most busy occurrences returned for one object over one window (default 5,000).
    package var maxOccurrences: Int
    /// Most recurrence-iterator steps for one object (default 100,000).
    package var maxIterations: Int

    /// The defaults above.
    package init() {
        maxBytes = 1 << 20
        maxDepth = 6
        maxComponents = 5_000
        maxOccurrences = 5_000
        maxIterations = 100_000
    }

    /// The defaults.
    package static let `default` = ICalLimits()
}
