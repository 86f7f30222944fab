import Foundation
import Crypto

/// `calsync keygen`: a fresh credentials key.
package enum Keygen {
    /// Base64 of 32 random bytes, suitable for `CALSYNC_ENCRYPTION_KEY`.
    package static func makeKey() -> String {
        SymmetricKey(size: .bits256).withUnsafeBytes { Data($0).base64EncodedString() }
    }
}
