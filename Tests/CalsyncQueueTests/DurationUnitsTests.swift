import CalsyncJobs
import CalsyncQueue
import Testing

/// The one Duration → number conversion used for timers, Redis `PX` arguments and dates.
@Suite struct DurationUnitsTests {
    @Test func nanosecondsKeepSubMillisecondParts() {
        #expect(Duration.seconds(2).nanoseconds == 2_000_000_000)
        #expect((Duration.milliseconds(1500) + .nanoseconds(7)).nanoseconds == 1_500_000_007)
    }

    @Test func millisecondsRoundDownAndNeverGoNegative() {
        #expect(Duration.microseconds(2_999).milliseconds == 2)
        #expect(Duration.seconds(30).milliseconds == 30_000)
        #expect(Duration.milliseconds(-5).milliseconds == 0)
    }

    @Test func timeIntervalIsFractionalSeconds() {
        #expect(Duration.milliseconds(1_250).timeInterval == 1.25)
        #expect(Duration.seconds(600).timeInterval == 600)
    }
}
