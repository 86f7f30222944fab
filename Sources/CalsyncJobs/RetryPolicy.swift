/// How retryable failures are spaced and how many runs a job gets.
package struct RetryPolicy: Sendable {
    /// Most runs of a job (the first run counts); after the last failure it goes dead.
    package var maxAttempts: Int
    /// The delay before the second run.
    package var base: Duration
    /// The longest delay.
    package var cap: Duration
    /// Whether the delay is drawn uniformly below the exponential bound (full jitter).
    package var jitter: Bool

    /// Capped exponential backoff with full jitter.
    package static func exponentialJitter(base: Duration, cap: Duration, maxAttempts: Int) -> RetryPolicy {
        RetryPolicy(maxAttempts: max(1, maxAttempts), base: base, cap: cap, jitter: true)
    }

    /// One run only: every retryable failure is final.
    package static var never: RetryPolicy {
        RetryPolicy(maxAttempts: 1, base: .zero, cap: .zero, jitter: false)
    }

    /// The upper bound of the delay after `attempt` (1-based): min(cap, base·2^(attempt-1)).
    package func maxDelay(afterAttempt attempt: Int) -> Duration {
        let exponent = min(max(attempt - 1, 0), 40)
        let baseMs = Double(base.milliseconds)
        let capMs = Double(cap.milliseconds)
        let bound = min(capMs, baseMs * pow2(exponent))
        return .milliseconds(Int64(bound))
    }

    /// Full jitter: uniform in [0, min(cap, base·2^(attempt-1))], never below `retryAfter` when given.
    package func delay(afterAttempt attempt: Int, retryAfter: Duration?) -> Duration {
        let bound = maxDelay(afterAttempt: attempt).milliseconds
        let drawn = jitter && bound > 0 ? Int64.random(in: 0...bound) : bound
        var delay = Duration.milliseconds(drawn)
        if let retryAfter, retryAfter > delay { delay = retryAfter }
        return delay
    }

    private func pow2(_ exponent: Int) -> Double {
        var value = 1.0
        for _ in 0..<exponent { value *= 2 }
        return value
    }
}
