import CalsyncJobs
import PostgresNIO

// postgres-nio's errors describe themselves either as a generic placeholder (`description`) or as a
// multi-line dump with the SQL and its bind values (`debugDescription`). Messages that reach dead
// records, error columns and logs use these single lines instead.

extension PSQLError: OneLineDescribable {
    /// `PostgreSQL server error SQLSTATE 42P01: relation "x" does not exist`: the code, the SQLSTATE
    /// and the server's message only (never the query or its bind values).
    package var oneLineDescription: String {
        var text = "PostgreSQL \(code) error"
        if let state = serverInfo?[.sqlState] { text += " SQLSTATE \(state)" }
        if let message = serverInfo?[.message] {
            text += ": \(message)"
        } else if let underlying {
            text += " (\(type(of: underlying)))"
        }
        return text
    }
}

extension PostgresDecodingError: OneLineDescribable {
    /// `PostgreSQL value of column "x" could not be decoded (typeMismatch)`, without the value.
    package var oneLineDescription: String {
        "PostgreSQL value of column \"\(columnName)\" could not be decoded (\(code))"
    }
}
