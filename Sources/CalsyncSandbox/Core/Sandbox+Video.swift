import Foundation
import Synchronization

// Video links: Google Meet (`conferenceData.createRequest`, `pending` then `success`, kept by later PATCHes) and
// Microsoft Teams (`isOnlineMeeting` where the calendar's `allowedOnlineMeetingProviders` lists the provider).

extension Sandbox {
    /// Sets what an account can have: Meet links (Google) and the calendars' `allowedOnlineMeetingProviders`
    /// (Graph; `[]` or `["skypeForConsumer"]` as a personal Microsoft account). Nil leaves a setting as it is.
    package func setVideoCapabilities(
        _ provider: SandboxProvider, email: String, meetEnabled: Bool? = nil, onlineMeetingProviders: [String]? = nil
    ) {
        state.withLock { s in
            guard let account = s.account(provider, email) else { return }
            if let meetEnabled { account.meetEnabled = meetEnabled }
            if let onlineMeetingProviders { account.onlineMeetingProviders = onlineMeetingProviders }
        }
    }
}

extension GoogleAPI {
    /// Applies a write's `conferenceData` (only with `conferenceDataVersion=1`, as Google): a `createRequest` on an
    /// event without a meeting starts one, `pending` until the next read (`failure` where Meet is off). An event
    /// that has a meeting keeps it; a write without `conferenceData` leaves it as it is.
    static func applyConference(
        _ stored: inout StoredEvent, _ conference: JSONValue?, request: APIRequest, account: AccountState
    ) {
        guard request.query("conferenceDataVersion") == "1", let create = conference?["createRequest"]?.objectValue,
            stored.resource["conferenceData"] == nil
        else { return }
        let requestID = create["requestId"]?.stringValue ?? ""
        let solution = create["conferenceSolutionKey"] ?? ["type": "hangoutsMeet"]
        stored.resource["conferenceData"] = [
            "createRequest": [
                "requestId": .string(requestID), "conferenceSolutionKey": solution,
                "status": ["statusCode": account.meetEnabled ? "pending" : "failure"],
            ]
        ]
    }

    /// The event with its `pending` Meet link made ready (nil when nothing is pending).
    static func conferenceReady(_ stored: StoredEvent) -> StoredEvent? {
        guard case .object(var data)? = stored.resource["conferenceData"],
            data["createRequest"]?["status"]?["statusCode"]?.stringValue == "pending",
            case .object(var create)? = data["createRequest"]
        else { return nil }
        let code = [3, 4, 3].map { SandboxRandom.string($0, alphabet: Array("abcdefghijklmnopqrstuvwxyz".utf8)) }.joined(separator: "-")
        create["status"] = ["statusCode": "success"]
        data["createRequest"] = .object(create)
        data["conferenceId"] = .string(code)
        data["conferenceSolution"] = ["key": ["type": "hangoutsMeet"], "name": "Google Meet"]
        data["entryPoints"] = [
            ["entryPointType": "video", "uri": .string("https://meet.google.com/\(code)"), "label": .string("meet.google.com/\(code)")],
            ["entryPointType": "more", "uri": .string("https://tel.meet/\(code)")],
        ]
        var ready = stored
        ready.resource["conferenceData"] = .object(data)
        ready.resource["hangoutLink"] = .string("https://meet.google.com/\(code)")
        return ready
    }
}

extension GraphAPI {
    /// Applies `isOnlineMeeting: true` of a write: a Teams meeting where the calendar allows the provider asked
    /// (`onlineMeetingProvider`, default the calendar's default), else the event stays without one, as Graph.
    /// An event that has a meeting keeps it on later PATCHes.
    static func onlineMeeting(_ stored: inout StoredEvent, input: [String: JSONValue], account: AccountState) {
        guard input["isOnlineMeeting"]?.boolValue == true, stored.resource["onlineMeeting"] == nil || stored.resource["onlineMeeting"] == .null
        else { return }
        let wanted = input["onlineMeetingProvider"]?.stringValue ?? account.onlineMeetingProviders.first ?? "unknown"
        guard account.onlineMeetingProviders.contains(wanted), wanted == "teamsForBusiness" else {
            stored.resource["isOnlineMeeting"] = false
            stored.resource["onlineMeetingProvider"] = "unknown"
            return
        }
        let thread = SandboxRandom.string(32, alphabet: SandboxRandom.urlSafe)
        stored.resource["isOnlineMeeting"] = true
        stored.resource["onlineMeetingProvider"] = "teamsForBusiness"
        stored.resource["onlineMeeting"] = ["joinUrl": .string("https://teams.microsoft.com/l/meetup-join/19%3ameeting_\(thread)%40thread.v2/0")]
    }
}

extension ControlAPI {
    /// `POST /_sandbox/video` `{provider, email, meetEnabled?, allowedOnlineMeetingProviders?}`.
    static func video(_ request: APIRequest, sandbox: Sandbox) -> APIResponse {
        struct Body: Decodable {
            var provider: SandboxProvider
            var email: String
            var meetEnabled: Bool?
            var allowedOnlineMeetingProviders: [String]?
        }
        switch decode(Body.self, request) {
        case .failure(let response): return response
        case .success(let body):
            guard exists(sandbox, AccountRef(provider: body.provider, email: body.email, calendarID: nil)) else { return fail(404, "unknown account") }
            sandbox.setVideoCapabilities(
                body.provider, email: body.email, meetEnabled: body.meetEnabled, onlineMeetingProviders: body.allowedOnlineMeetingProviders)
            return .empty(204)
        }
    }
}
