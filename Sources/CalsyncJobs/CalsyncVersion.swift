/// The version a calsync process reports (worker heartbeats, the console).
package enum CalsyncVersion {
    /// This build's version.
    package static let current = "2.0.0-dev"
}
