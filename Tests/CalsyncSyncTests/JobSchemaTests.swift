import CalsyncSync
import CalsyncTestSupport
import Foundation
import Testing

/// The JSON Schemas in `jobs/schemas` and the Swift payload decoders must agree on every example.
@Suite("Job schemas and payload decoders")
struct JobSchemaTests {
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    struct Example {
        let type: String
        let job: [String: Any]
        let why: String?
        /// True when the job breaks the envelope (id, type, payload shape): the engine refuses it before any decoder.
        var breaksEnvelope: Bool {
            guard let id = job["id"] as? String, (1...128).contains(id.count) else { return true }
            return (job["type"] as? String) != type || !(job["payload"] is [String: Any])
        }
        var payload: [UInt8] {
            Array((try? JSONSerialization.data(withJSONObject: job["payload"] ?? [:])) ?? Data())
        }
    }

    static func examples(_ file: String) throws -> [Example] {
        let data = try Data(contentsOf: repository.appendingPathComponent("jobs/examples/\(file)"))
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: [Any]])
        return root.flatMap { type, list in
            list.compactMap { item -> Example? in
                guard let item = item as? [String: Any] else { return nil }
                if let job = item["job"] as? [String: Any] {
                    return Example(type: type, job: job, why: item["why"] as? String)
                }
                return Example(type: type, job: item, why: nil)
            }
        }
    }

    /// Asks Python's `jsonschema` (Draft 2020-12) which examples each schema accepts.
    static func schemaVerdicts() async throws -> [String: [Bool]] {
        let script = """
            import json, sys, jsonschema
            root = sys.argv[1]
            out = {}
            for name in ("valid", "invalid"):
                examples = json.load(open(f"{root}/jobs/examples/{name}.json"))
                for t, items in sorted(examples.items()):
                    schema = json.load(open(f"{root}/jobs/schemas/{t}.schema.json"))
                    jsonschema.Draft202012Validator.check_schema(schema)
                    v = jsonschema.Draft202012Validator(schema)
                    out[f"{name}/{t}"] = [v.is_valid(i["job"] if "job" in i else i) for i in items]
            print(json.dumps(out))
            """
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("calsync-schemas-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: output) }
        let python = try ChildProcess(
            executable: "/usr/bin/env", arguments: ["python3", "-c", script, repository.path],
            environment: ProcessInfo.processInfo.environment, stdoutPath: output.path, stderrPath: "/dev/null")
        let status = await python.wait(timeout: .seconds(60))
        try #require(status == 0, "python3 with jsonschema is needed (make test installs it)")
        return try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: output)) as? [String: [Bool]])
    }

    @Test("every schema is valid Draft 2020-12 and agrees with the examples")
    func schemasAgreeWithExamples() async throws {
        let verdicts = try await Self.schemaVerdicts()
        #expect(Set(verdicts.keys.filter { $0.hasPrefix("valid/") }.map { String($0.dropFirst(6)) })
            == Set(ContractJobTypes.all))
        for (key, list) in verdicts {
            let expected = key.hasPrefix("valid/")
            for (index, verdict) in list.enumerated() {
                #expect(verdict == expected, "schema verdict for \(key)[\(index)]")
            }
        }
    }

    @Test("the Swift decoders accept every valid example")
    func decodersAcceptValidExamples() throws {
        let examples = try Self.examples("valid.json")
        #expect(examples.count >= ContractJobTypes.all.count)
        for example in examples {
            #expect(!example.breaksEnvelope)
            #expect(throws: Never.self, "\(example.type)") {
                try ContractJobTypes.validate(type: example.type, payload: example.payload)
            }
        }
    }

    @Test("the Swift decoders refuse every invalid payload, naming the field")
    func decodersRefuseInvalidExamples() throws {
        let examples = try Self.examples("invalid.json").filter { !$0.breaksEnvelope }
        #expect(examples.count >= 8)
        for example in examples {
            let error = #expect(throws: JobPayloadError.self, "\(example.type): \(example.why ?? "")") {
                try ContractJobTypes.validate(type: example.type, payload: example.payload)
            }
            #expect(error?.message.hasPrefix("payload") == true, "\(example.why ?? ""): \(error?.message ?? "")")
        }
    }

    @Test("secrets never show in descriptions or error messages")
    func secretsAreNotPrinted() throws {
        let payload = Array(#"{"member_id":"m","actor_member_id":"m","provider":"caldav","server_url":"https://x","username":"u","password":"hunter2-secret"}"#.utf8)
        let decoded = try ConnectCalendarPayload.decode(from: payload)
        #expect(decoded.password?.value == "hunter2-secret")
        #expect(!String(describing: decoded).contains("hunter2"))
        #expect(!String(reflecting: decoded).contains("hunter2"))
        let broken = Array(#"{"member_id":"m","actor_member_id":"m","provider":"google","authorization_code":12345,"redirect_uri":"r"}"#.utf8)
        let error = #expect(throws: JobPayloadError.self) { try ConnectCalendarPayload.decode(from: broken) }
        #expect(error?.message == "payload.authorization_code must be a string")
    }

    @Test("RFC 3339 parsing", arguments: [
        ("2026-11-23T14:00:00Z", 1_795_442_400.0),
        ("2026-11-23T15:00:00+01:00", 1_795_442_400.0),
        ("2026-11-23T06:00:00.500-08:00", 1_795_442_400.5),
    ])
    func rfc3339(text: String, seconds: Double) {
        #expect(RFC3339Instant.parse(text)?.timeIntervalSince1970 == seconds)
    }

    @Test("RFC 3339 parsing refuses times without an offset or out of range", arguments: [
        "2026-11-23T14:00:00", "2026-11-23 14:00:00Z", "2026-02-31T10:00:00Z", "2026-11-23T25:00:00Z",
        "2026-11-23T14:00:00+0100", "", "2026-11-23T14:00:00.Z",
    ])
    func rfc3339Refused(text: String) {
        #expect(RFC3339Instant.parse(text) == nil)
    }
}
