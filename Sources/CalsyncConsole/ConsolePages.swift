import CalsyncJobs
import CalsyncQueue
import Foundation

/// Builds the values the templates render: every text goes through Mustache's HTML escaping, and every
/// value comes from the queue's redacted records or the named connection columns, never a credential.
enum ConsolePages {
    /// Reasons the dead-jobs filter proposes (any other can be typed).
    static let commonReasons = [
        "invalid_job", "attempts_exhausted", "lease_expired", "deferrals_exhausted", "too_old", "forbidden",
        "permanent_error", "provider_refused", "reconnect_required", "unknown_member",
    ]

    /// `12.3 s`, `4.5 min`, `2.0 h`, `3.1 d`.
    static func age(_ seconds: Double) -> String { AgeText.format(seconds: seconds) }

    /// A timestamp as the page shows it (RFC 3339, seconds, UTC).
    static func time(_ date: Date) -> String { RFC3339.formatSeconds(date) }

    /// A Postgres timestamptz text (`2026-12-01 10:00:00.123+00`) shortened to seconds; "—" when absent.
    static func dbTime(_ text: String?) -> String {
        guard let text, !text.isEmpty else { return "—" }
        if let dot = text.firstIndex(of: ".") {
            let zone = text[dot...].firstIndex(where: { $0 == "+" || $0 == "-" }).map { String(text[$0...]) } ?? ""
            return String(text[..<dot]) + zone
        }
        return text
    }

    /// The overview table's values.
    static func overview(
        stats: QueueStats, jobTypes: [String], deadByType: [String: Int], oldest: [String: Double], done: [String: Int],
        workers: [WorkerBeat]
    ) -> [String: Any] {
        var inFlight: [String: Int] = [:]
        for worker in workers { for (type, n) in worker.inFlightByType { inFlight[type, default: 0] += n } }
        let types = Set(jobTypes).union(stats.ready.keys).union(stats.scheduled.keys).union(deadByType.keys).union(done.keys)
            .union(inFlight.keys).sorted()
        let rows: [[String: Any]] = types.map { type in
            let dead = deadByType[type] ?? 0
            return [
                "type": type, "ready": stats.ready[type] ?? 0, "scheduled": stats.scheduled[type] ?? 0,
                "inFlight": inFlight[type] ?? 0, "dead": dead, "deadLink": dead > 0,
                "oldest": oldest[type].map(age) ?? "—", "done": done[type] ?? 0,
            ]
        }
        return [
            "types": rows, "readyTotal": stats.ready.values.reduce(0, +), "scheduledTotal": stats.scheduled.values.reduce(0, +),
            "inFlightTotal": stats.inFlight, "deadTotal": stats.dead, "oldestTotal": stats.oldestJobAgeSeconds.map(age) ?? "—",
            "doneTotal": done.values.reduce(0, +), "workerCount": workers.count, "deadTrimmed": stats.deadTrimmed,
            "updatedAt": time(Date()),
        ]
    }

    /// One worker row.
    static func worker(_ beat: WorkerBeat, nowMs: Int64) -> [String: Any] {
        [
            "id": beat.id, "host": beat.host, "pid": beat.pid, "version": beat.version, "concurrency": beat.concurrency,
            "inFlight": beat.inFlight,
            "byType": beat.inFlightByType.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "),
            "startedAt": time(Date(timeIntervalSince1970: Double(beat.startedAtMs) / 1000)),
            "beatAge": age(Double(max(0, nowMs - beat.beatAtMs)) / 1000),
        ]
    }

    /// One dead record (list row or detail).
    static func dead(_ record: DeadRecord) -> [String: Any] {
        [
            "id": record.id, "type": record.type ?? "—", "reason": record.reason, "error": record.error ?? "—",
            "http": record.httpStatus.map(String.init) ?? "—", "attempts": record.attempts,
            "firstFailed": time(record.firstFailedAt), "lastFailed": time(record.lastFailedAt), "raw": SecretRedaction.redactForDisplay(record.raw),
        ]
    }

    /// One connection (list row or detail).
    static func connection(_ view: ConnectionView) -> [String: Any] {
        var values: [String: Any] = [
            "id": view["id"] ?? "", "memberID": view["member_id"] ?? "", "provider": view["provider"] ?? "",
            "email": view["account_email"] ?? "—", "status": view["status"] ?? "", "direction": view["sync_direction"] ?? "",
            "inbound": dbTime(view["last_inbound_sync_at"]), "outbound": dbTime(view["last_outbound_sync_at"]),
            "rateLimitedUntil": dbTime(view["rate_limited_until"]), "tokenExpires": dbTime(view["access_token_expires_at"]),
            "updated": dbTime(view["updated_at"]),
            "pushColumns": view.push.map { ["name": $0.name, "value": $0.value] },
            "push": view.push.isEmpty ? "—" : view.push.map { "\($0.name): \($0.value)" }.joined(separator: ", "),
        ]
        if let detail = view["status_detail"] { values["statusDetail"] = detail }
        if let error = view["last_inbound_error"] { values["inboundError"] = error }
        if let error = view["last_outbound_error"] { values["outboundError"] = error }
        return values
    }

    /// A query string from pairs, empty values left out.
    static func query(_ pairs: [(String, String?)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let parts = pairs.compactMap { name, value -> String? in
            guard let value, !value.isEmpty else { return nil }
            return name + "=" + (value.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")
        }
        return parts.isEmpty ? "" : "?" + parts.joined(separator: "&")
    }
}
