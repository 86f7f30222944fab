#if canImport(Glibc)
import CalsyncJobs
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CalsyncQueue
import Foundation
import Logging

/// A swift-log handler writing one line per entry to standard error: human text or a JSON object.
package struct CalsyncLogHandler: LogHandler {
    /// The logger's label (e.g. `calsync.worker`).
    package let label: String
    /// Text or JSON lines.
    package let format: CalsyncConfiguration.Logging.Format
    /// The handler's own metadata.
    package var metadata: Logger.Metadata = [:]
    /// The minimum level written.
    package var logLevel: Logger.Level
    /// Contextual metadata added at each entry.
    package var metadataProvider: Logger.MetadataProvider?

    /// Creates a handler for `label`.
    package init(label: String, format: CalsyncConfiguration.Logging.Format, level: Logger.Level,
                metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.format = format
        self.logLevel = level
        self.metadataProvider = metadataProvider
    }

    /// Reads or writes one metadata key of the handler.
    package subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Writes one entry.
    package func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        if let error = event.error { merged[LogKey.error] = "\(error)" }
        let line: String
        switch format {
        case .text: line = Self.textLine(label: label, level: event.level, message: "\(event.message)", metadata: merged)
        case .json: line = Self.jsonLine(label: label, level: event.level, message: "\(event.message)", metadata: merged)
        }
        Self.writeToStandardError(line)
    }

    /// `2026-11-21T10:00:00.123Z info calsync.worker: message key=value …`
    /// Control characters are escaped, so no message or value (e.g. a provider's text) can forge a line.
    static func textLine(label: String, level: Logger.Level, message: String, metadata: Logger.Metadata) -> String {
        var line = "\(timestamp()) \(level.rawValue) \(label): \(SafeText.escaped(message))"
        for key in metadata.keys.sorted() {
            line += " \(SafeText.escaped(key))=\(SafeText.escaped(metadata[key].map { "\($0)" } ?? ""))"
        }
        line += "\n"
        return line
    }

    /// `{"label":…,"level":…,"message":…,"metadata":{…},"ts":…}`, written by `JSONEncoder` (keys sorted).
    static func jsonLine(label: String, level: Logger.Level, message: String, metadata: Logger.Metadata) -> String {
        let line = JSONLine(
            ts: timestamp(), level: level.rawValue, label: label, message: message,
            metadata: metadata.mapValues(JSONMetadataValue.init))
        guard let data = try? JobQueue.jsonEncoder.encode(line) else { return "{}\n" }
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// One JSON log line.
    struct JSONLine: Encodable {
        let ts: String
        let level: String
        let label: String
        let message: String
        let metadata: [String: JSONMetadataValue]
    }

    /// A metadata value as JSON: strings, arrays and objects.
    struct JSONMetadataValue: Encodable {
        let value: Logger.MetadataValue

        func encode(to encoder: any Encoder) throws {
            switch value {
            case .string(let text):
                var c = encoder.singleValueContainer()
                try c.encode(text)
            case .stringConvertible(let convertible):
                var c = encoder.singleValueContainer()
                try c.encode(convertible.description)
            case .array(let values):
                var c = encoder.singleValueContainer()
                try c.encode(values.map(JSONMetadataValue.init))
            case .dictionary(let dictionary):
                var c = encoder.singleValueContainer()
                try c.encode(dictionary.mapValues(JSONMetadataValue.init))
            }
        }
    }

    /// RFC 3339 UTC with milliseconds, without Foundation formatters.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
        }
        return "\(pad(Int(parts.tm_year) + 1900, 4))-\(pad(Int(parts.tm_mon) + 1, 2))-\(pad(Int(parts.tm_mday), 2))T"
            + "\(pad(Int(parts.tm_hour), 2)):\(pad(Int(parts.tm_min), 2)):\(pad(Int(parts.tm_sec), 2))."
            + "\(pad(Int(now.tv_nsec) / 1_000_000, 3))Z"
    }

    static func writeToStandardError(_ line: String) {
        var line = line
        line.withUTF8 { buffer in
            guard var pointer = buffer.baseAddress else { return }
            var remaining = buffer.count
            while remaining > 0 {
                let written = write(2, pointer, remaining)
                if written < 0 {
                    if errno == EINTR { continue }
                    return
                }
                remaining -= written
                pointer += written
            }
        }
    }
}

/// Process-wide bootstrap of logging and metrics (each at most once per process).
package enum Observability {
    /// Sends every `Logger` of the process through `CalsyncLogHandler` with the configured format and level.
    package static func bootstrapLogging(_ configuration: CalsyncConfiguration.Logging) {
        let format = configuration.format
        let level = configuration.level
        LoggingSystem.bootstrap { label in
            CalsyncLogHandler(label: label, format: format, level: level)
        }
    }
}
