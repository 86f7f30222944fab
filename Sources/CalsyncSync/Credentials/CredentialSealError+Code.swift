extension CredentialSealError {
    /// Why credentials could not be sealed or opened, as a stable code.
    ///
    /// Codes are compared as values (`error.code == .invalidKey`), never as strings; the text never changes.
    package struct Code: Sendable, Hashable, CustomStringConvertible {
        /// The code's text, e.g. in a dead record or a metric label.
        package let rawValue: String

        /// A code from its text (a code passed on from another layer keeps its text).
        package init(_ rawValue: String) { self.rawValue = rawValue }

        /// The code's text.
        package var description: String { rawValue }

        /// `invalid_key`: The key is not 32 bytes.
        package static let invalidKey = Code("invalid_key")

        /// `seal_failed`: AES-GCM produced no sealed box.
        package static let sealFailed = Code("seal_failed")

        /// `tampered`: The sealed credentials could not be opened (corrupted or moved).
        package static let tampered = Code("tampered")

        /// `unknown_key`: The credentials were sealed with a key this process does not have.
        package static let unknownKey = Code("unknown_key")
    }
}
