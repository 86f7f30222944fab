import Foundation
extension Job {
    /// How long a job id (and any other id of a payload) may be, in characters (contract §2).
    package static let idLengths: ClosedRange<Int> = 1...128
}

extension Job {
    /// The encoder of job texts and payloads: sorted keys, so one job always has one text; `/` left as it is.
    package static let jsonEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()
}
