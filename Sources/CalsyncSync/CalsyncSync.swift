// CalsyncSync owns the domain rules of sync: the job payloads of the contract, the
// `CalendarProvider` protocol the provider clients implement, appointment rendering,
// busy rules, and (with the sync issue) the handlers and the store protocol.
// It must not depend on HTTP, SQL or Redis types: clients and stores plug in behind protocols.
