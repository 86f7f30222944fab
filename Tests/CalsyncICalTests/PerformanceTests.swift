import CalsyncICal
import Foundation
import Testing

/// Parsing and expanding many objects is fast enough for a 10,000-event import.
@Suite struct PerformanceTests {
    /// 10,000 objects (a tenth of them weekly series with an override) parse and expand in well under two seconds.
    @Test func tenThousandObjects() async throws {
        let (count, cpu, wall) = try await Fixture.onOwnThread { () throws -> (Int, Double, Duration) in
            var objects: [String] = []
            for index in 0..<10_000 {
                let day = 1 + index % 28
                let start = "202612\(day < 10 ? "0" : "")\(day)T\(10 + index % 8)0000"
                if index % 10 == 0 {
                    objects.append(Fixture.calendar(
                        Fixture.berlinTimeZone,
                        Fixture.event("UID:e\(index)", "DTSTART;TZID=Europe/Berlin:\(start)", "DURATION:PT1H", "RRULE:FREQ=WEEKLY"),
                        Fixture.event("UID:e\(index)", "RECURRENCE-ID;TZID=Europe/Berlin:\(start)", "DTSTART;TZID=Europe/Berlin:\(start)", "DURATION:PT2H")
                    ))
                } else {
                    objects.append(Fixture.calendar(Fixture.event(
                        "UID:e\(index)", "DTSTART;TZID=Europe/Berlin:\(start)", "DTEND;TZID=Europe/Berlin:\(start)", "SUMMARY:Busy",
                        "ATTENDEE;PARTSTAT=ACCEPTED:mailto:anna@example.com"
                    )))
                }
            }
            let window = Fixture.window("2026-11-30T00:00:00Z", "2027-03-01T00:00:00Z")
            let clock = ContinuousClock()
            let cpuBefore = Fixture.threadCPUSeconds()
            var count = 0
            let wall = try clock.measure {
                for object in objects {
                    count += try Fixture.busy(object, window).count
                }
            }
            return (count, Fixture.threadCPUSeconds() - cpuBefore, wall)
        }
        #expect(count > 10_000)
        // CPU time of the parsing thread: a debug build needs about 0.3 s; other processes on the machine do not count.
        #expect(cpu < 2, "10,000 objects took \(cpu) s of CPU")
        print("CalsyncICal: 10,000 objects, \(count) occurrences in \(cpu) s of CPU (\(wall) wall)")
    }
}
