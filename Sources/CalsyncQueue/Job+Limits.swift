extension Job {
    /// How long a job id (and any other id of a payload) may be, in characters (contract §2).
    package static let idLengths: ClosedRange<Int> = 1...128
}
