// CalsyncSync owns the domain rules of sync: the job payloads of the contract, the
// `CalendarProvider` protocol the provider clients implement, appointment rendering,
// busy rules, the handlers and the store protocol. It imports only CalsyncJobs, Crypto, Logging,
// Metrics and Foundation: no Redis, PostgreSQL, NIO or HTTP module (scripts/check-imports.sh fails
// otherwise); provider clients, stores, locks and limiters plug in behind protocols.
