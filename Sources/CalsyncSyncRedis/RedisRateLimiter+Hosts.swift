extension RedisRateLimiter {
    /// The limits of a bucket: by provider name, or for a per-host bucket (`caldav:<host>`) its provider's.
    func limits(of bucket: String) -> ProviderRateLimits? {
        if let exact = limits[bucket] { return exact }
        guard let colon = bucket.firstIndex(of: ":") else { return nil }
        return limits[String(bucket[..<colon])]
    }
}
