import CalsyncSync

extension CalsyncConfiguration {
    /// The job types of contract §2 that every worker knows (their ready lists are always reported).
    package static let contractJobTypes: [String] = ContractJobTypes.all
}
