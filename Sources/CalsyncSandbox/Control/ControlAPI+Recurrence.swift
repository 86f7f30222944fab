import Foundation
import Hummingbird

/// The control API of recurring events: `POST /_sandbox/recurring-events` and `POST /_sandbox/instance-changes`.
extension ControlAPI {
    /// The body of `POST /_sandbox/recurring-events`: the first instance and Google-style recurrence lines.
    struct RecurringInsert: Decodable {
        var provider: SandboxProvider
        var email: String
        var calendarID: String?
        var event: SandboxEvent
        var recurrence: [String]
    }

    /// The body of `POST /_sandbox/instance-changes`: `cancel: true`, or a new `start` and `end`.
    struct InstanceChange: Decodable {
        var provider: SandboxProvider
        var email: String
        var calendarID: String?
        var seriesID: String
        var recurrenceID: String
        var cancel: Bool?
        var start: Date?
        var end: Date?
    }

    /// Adds the recurring-event routes to the control group.
    static func addRecurrenceRoutes(to control: RouterGroup<SandboxRequestContext>, sandbox: Sandbox) {
        control.on("recurring-events", method: .post) { _, context in
            switch decode(RecurringInsert.self, context.api) {
            case .failure(let r): return r
            case .success(let insert):
                let ref = AccountRef(provider: insert.provider, email: insert.email, calendarID: insert.calendarID)
                guard let cal = resolvedCalendarID(sandbox, ref) else { return fail(404, "unknown account or calendar") }
                let id = sandbox.insertRecurringEvent(
                    insert.provider, email: insert.email, calendarID: cal, insert.event, recurrence: insert.recurrence)
                guard !id.isEmpty else { return fail(400, "the event was refused (duplicate id or invalid times)") }
                return ok(["id": id], status: 201)
            }
        }
        control.on("instance-changes", method: .post) { _, context in
            switch decode(InstanceChange.self, context.api) {
            case .failure(let r): return r
            case .success(let body):
                let ref = AccountRef(provider: body.provider, email: body.email, calendarID: body.calendarID)
                guard let cal = resolvedCalendarID(sandbox, ref) else { return fail(404, "unknown account or calendar") }
                let change: SandboxInstanceChange
                if body.cancel == true {
                    change = .cancel
                } else if let start = body.start, let end = body.end, end > start {
                    change = .move(start: start, end: end)
                } else {
                    return fail(400, "give cancel: true, or start and end (end after start)")
                }
                sandbox.changeInstance(
                    body.provider, email: body.email, calendarID: cal, seriesID: body.seriesID, recurrenceID: body.recurrenceID, change)
                return .empty(204)
            }
        }
    }
}
