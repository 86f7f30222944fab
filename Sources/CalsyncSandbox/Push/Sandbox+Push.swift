import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization


extension Sandbox {
    /// The open Google watch channels and Graph subscriptions (expired ones are gone).
    package func pushChannels() -> [SandboxPushChannel] {
        push.withLock { p in
            p.channels.values.map {
                SandboxPushChannel(
                    id: $0.id, provider: .google, email: $0.email, calendarID: $0.calendarID, address: $0.address,
                    expiration: $0.expiration)
            }
                + p.subscriptions.values.map {
                    SandboxPushChannel(
                        id: $0.id, provider: .microsoft, email: $0.email, calendarID: nil, address: $0.notificationURL,
                        expiration: $0.expiration)
                }
        }
    }

    /// Every delivery attempt so far, oldest first.
    package func pushDeliveries() -> [SandboxPushDelivery] {
        push.withLock { $0.log }
    }

    /// Sets how notifications are delivered (delay, loss, duplicates, retries).
    package func setPushFaults(_ faults: SandboxPushFaults) {
        push.withLock { $0.faults = faults }
    }

    /// Lets a channel or subscription expire now: no further notification, and renewing it is 404.
    package func expirePushChannel(id: String) {
        push.withLock { p in
            p.channels[id]?.expiration = Self.now - 1
            p.subscriptions[id]?.expiration = Self.now - 1
        }
    }

    /// Sends a Graph lifecycle notification (`reauthorizationRequired`, `subscriptionRemoved`, `missed`) for a
    /// subscription; `subscriptionRemoved` also removes it. False when the subscription is unknown.
    @discardableResult
    package func sendLifecycleEvent(subscriptionID: String, event: String) -> Bool {
        push.withLock { p in
            guard let sub = p.subscriptions[subscriptionID], let url = sub.lifecycleURL else { return false }
            let item: JSONValue = [
                "subscriptionId": .string(sub.id), "clientState": sub.clientState.map(JSONValue.string) ?? .null,
                "lifecycleEvent": .string(event), "resource": "me/events",
                "subscriptionExpirationDateTime": .string(SandboxTime.formatUTC(sub.expiration)),
                "organizationId": "sandbox-tenant",
            ]
            Self.enqueue(
                &p, channelID: sub.id, provider: .microsoft, kind: "lifecycle:\(event)", url: url,
                headers: [("Content-Type", "application/json")], body: JSONValue.object(["value": .array([item])]).bytes)
            if event == "subscriptionRemoved" { p.subscriptions[subscriptionID] = nil }
            return true
        }
    }

    /// Queues a delivery (with the faults' delay, loss and, for Graph notifications, duplicates).
    static func enqueue(
        _ p: inout SandboxPushState, channelID: String, provider: SandboxProvider, kind: String, url: String,
        headers: [(String, String)], body: [UInt8]
    ) {
        let faults = p.faults
        if faults.dropProbability > 0, Double.random(in: 0..<1) < faults.dropProbability {
            p.log.append(
                SandboxPushDelivery(channelID: channelID, provider: provider, kind: "lost", status: nil, attempt: 0, seconds: 0, at: now))
            return
        }
        let copies = provider == .microsoft && kind == "notification" ? max(1, faults.graphDuplicates) : 1
        for copy in 0..<copies {
            p.pending.append(
                PendingDelivery(
                    channelID: channelID, provider: provider, kind: kind, url: url, headers: headers, body: body, attempt: 1,
                    dueAt: now + faults.delaySeconds + Double(copy) * 0.05))
        }
    }

    /// Finds calendars that changed under a channel or subscription and queues their notifications; drops
    /// what expired. Runs under both locks (state first, as the routes do).
    func collectChanges() {
        state.withLock { s in
            push.withLock { p in
                let now = Self.now
                p.channels = p.channels.filter { $0.value.expiration > now }
                p.subscriptions = p.subscriptions.filter { $0.value.expiration > now }
                for (id, var channel) in p.channels {
                    guard let calendar = s.account(.google, channel.email)?.calendars[channel.calendarID] else { continue }
                    var states: [String] = []
                    if !channel.syncSent {
                        states.append("sync")
                        channel.syncSent = true
                    }
                    if calendar.changeSeq != channel.lastSeq {
                        states.append("exists")
                        channel.lastSeq = calendar.changeSeq
                    }
                    for state in states {
                        channel.messageNumber += 1
                        var headers = [
                            ("X-Goog-Channel-ID", channel.id), ("X-Goog-Channel-Expiration", Self.httpDate(channel.expiration)),
                            ("X-Goog-Resource-ID", channel.resourceID), ("X-Goog-Resource-State", state),
                            ("X-Goog-Resource-URI", "https://www.googleapis.com/calendar/v3/calendars/\(URLText.encode(channel.calendarID))/events?alt=json"),
                            ("X-Goog-Message-Number", String(channel.messageNumber)),
                        ]
                        if let token = channel.token { headers.append(("X-Goog-Channel-Token", token)) }
                        Self.enqueue(&p, channelID: id, provider: .google, kind: state, url: channel.address, headers: headers, body: [])
                    }
                    p.channels[id] = channel
                }
                for (id, var sub) in p.subscriptions {
                    guard let account = s.account(.microsoft, sub.email) else { continue }
                    let seq = account.calendars.values.reduce(0) { $0 + $1.changeSeq }
                    guard seq != sub.lastSeq else { continue }
                    sub.lastSeq = seq
                    p.subscriptions[id] = sub
                    let item: JSONValue = [
                        "subscriptionId": .string(sub.id), "clientState": sub.clientState.map(JSONValue.string) ?? .null,
                        "changeType": "updated", "resource": .string("Users/\(GraphAPI.userID(sub.email))/Events"),
                        "subscriptionExpirationDateTime": .string(SandboxTime.formatUTC(sub.expiration)),
                        "tenantId": "sandbox-tenant",
                    ]
                    Self.enqueue(
                        &p, channelID: id, provider: .microsoft, kind: "notification", url: sub.notificationURL,
                        headers: [("Content-Type", "application/json")], body: JSONValue.object(["value": .array([item])]).bytes)
                }
            }
        }
    }

    /// Delivers notifications until cancelled: every 20 ms (100 ms while nothing is open) it looks for changes and sends what is due,
    /// retrying failed attempts with doubling delays up to the faults' `maxAttempts`.
    package func runPushDelivery() async {
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                // A sandbox without channels (most tests) only checks that, a few times a second.
                if push.withLock({ $0.channels.isEmpty && $0.subscriptions.isEmpty && $0.pending.isEmpty }) {
                    try? await Task.sleep(for: .milliseconds(100))
                    continue
                }
                collectChanges()
                let due: [PendingDelivery] = push.withLock { p in
                    let now = Self.now
                    let ready = p.pending.filter { $0.dueAt <= now }
                    p.pending.removeAll { $0.dueAt <= now }
                    return ready
                }
                for delivery in due {
                    group.addTask { await self.deliver(delivery) }
                }
                try? await Task.sleep(for: .milliseconds(20))
            }
            group.cancelAll()
        }
    }

    /// One attempt: POST the notification, log it, and schedule a retry when it failed.
    func deliver(_ delivery: PendingDelivery) async {
        let timeout = push.withLock { $0.faults.answerTimeoutSeconds }
        let started = Self.now
        let status = await Self.post(delivery.url, headers: delivery.headers, body: delivery.body, timeout: timeout)
        push.withLock { p in
            p.log.append(
                SandboxPushDelivery(
                    channelID: delivery.channelID, provider: delivery.provider, kind: delivery.kind, status: status,
                    attempt: delivery.attempt, seconds: Self.now - started, at: started))
            let ok = status.map { (200..<300).contains($0) } ?? false
            if !ok, delivery.attempt < p.faults.maxAttempts {
                var retry = delivery
                retry.attempt += 1
                retry.dueAt = Self.now + p.faults.retryDelaySeconds * pow(2, Double(delivery.attempt - 1))
                p.pending.append(retry)
            }
        }
    }

    /// POSTs to a receiver; its status, or nil when it did not answer within `timeout` seconds.
    static func post(_ url: String, headers: [(String, String)], body: [UInt8], timeout: Double) async -> Int? {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: .milliseconds(Int64(timeout * 1000)))
            _ = try? await response.body.collect(upTo: 1 << 20)
            return Int(response.status.code)
        } catch {
            return nil
        }
    }

    /// Graph's validation request: POST `url?validationToken=…` (text/plain); true when the receiver answered
    /// 200 with the token as its body within 10 s.
    static func validate(_ url: String) async -> Bool {
        let token = "Validation: Testing client application at " + SandboxTime.formatUTC(now) + " " + SandboxRandom.token(8)
        let separator = url.contains("?") ? "&" : "?"
        var request = HTTPClientRequest(url: url + separator + "validationToken=" + URLText.encode(token))
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
            let body = try await response.body.collect(upTo: 64 * 1024)
            return response.status.code == 200 && String(buffer: body) == token
        } catch {
            return false
        }
    }

    /// An RFC 1123 date (Google's `X-Goog-Channel-Expiration`).
    static func httpDate(_ instant: Double) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return formatter.string(from: Date(timeIntervalSince1970: instant))
    }

    /// Whether a receiver address is one the providers accept: https, or http on loopback for tests.
    static func acceptableAddress(_ address: String) -> Bool {
        guard let url = URL(string: address), let scheme = url.scheme?.lowercased(), let host = url.host else { return false }
        if scheme == "https" { return true }
        return scheme == "http" && (host == "127.0.0.1" || host == "localhost" || host == "::1")
    }
}
