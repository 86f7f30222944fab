import CalsyncConsole
import CalsyncJobs
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// Review findings 11 (a secret in a dead job that never parsed) and 13 (the lockout is per operator name).
@Suite("Console: secrets in unparsable jobs, lockout per operator", .serialized)
struct ConsoleReviewFixesTests {
    @Test("a dead job that never parsed shows no password or authorization code")
    func unparsableJobIsMasked() async throws {
        try await ConsoleRig.with { rig in
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            // A trailing comma: invalid JSON, kept byte for byte in the dead record.
            let caldav = #"{"id":"job-c","type":"connect_calendar","payload":{"member_id":"m1","provider":"caldav","username":"ada","password":"hunter2-APP-PASSWORD",}}"#
            // Cut off inside the value, as the 4 KiB head of an oversized job can be.
            let google = #"{"id":"job-g","type":"connect_calendar","payload":{"provider":"google","Authorization_Code" : "4/0AX-SECRET-CODE"#
            try await rig.addDead(id: "job-c", type: "connect_calendar", reason: "invalid_job", raw: caldav, atMs: now)
            try await rig.addDead(id: "job-g", type: "connect_calendar", reason: "invalid_job", raw: google, atMs: now - 1)
            try await Application(router: rig.console.makeRouter()).test(.router) { client in
                let browser = FormClient(client)
                try await browser.login()
                for id in ["job-c", "job-g"] {
                    let page = try await browser.request("/dead/show?id=\(id)")
                    #expect(page.status == .ok)
                    #expect(!page.body.contains("hunter2"))
                    #expect(!page.body.contains("SECRET-CODE"))
                    #expect(page.body.contains("[redacted]"))
                }
                // What is not a secret is still shown.
                #expect(try await browser.request("/dead/show?id=job-c").body.contains("ada"))
            }
        }
    }

    @Test("the lenient mask covers quoted, unquoted and form-style values and leaves other keys alone")
    func lenientMask() {
        #expect(SecretRedaction.redactForDisplay(#"{"password": "a\"b", "x": 1,"#) == #"{"password": "[redacted]", "x": 1,"#)
        #expect(SecretRedaction.redactForDisplay("password=s3cret&user=ada") == #"password="[redacted]"&user=ada"#)
        #expect(SecretRedaction.redactForDisplay(#"{"password_hint":"blue","#) == #"{"password_hint":"blue","#)
        #expect(SecretRedaction.redactForDisplay(#"{"PASSWORD":"#) == #"{"PASSWORD":"#)
        // Parsable JSON keeps the exact redaction.
        #expect(SecretRedaction.redactForDisplay(#"{"password":"x","n":"password"}"#) == #"{"password":"[redacted]","n":"password"}"#)
    }

    @Test("wrong passwords lock only that operator name; another operator still signs in")
    func lockoutPerOperator() async throws {
        try await ConsoleRig.with(configure: { $0.lockoutFailures = 3 }) { rig in
            try await Application(router: rig.console.makeRouter()).test(.router) { client in
                let stranger = FormClient(client)
                #expect(try await stranger.login(as: "Ada", password: "wrong 1").status == .unauthorized)
                #expect(try await stranger.login(as: "ada", password: "wrong 2").status == .unauthorized)
                let third = try await stranger.login(as: "Ada", password: "wrong 3")
                #expect(third.status == .tooManyRequests)
                // Ada is locked out, even with the right password…
                let ada = FormClient(client)
                #expect(try await ada.login(as: "Ada").status == .tooManyRequests)
                // …but Grace is not.
                let grace = FormClient(client)
                #expect(try await grace.login(as: "Grace Hopper").status == .seeOther)
                #expect(try await grace.request("/").status == .ok)
            }
        }
    }
}
