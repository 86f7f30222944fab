// CalsyncWebhooks owns `calsync webhooks`: the HTTP endpoints the providers call with push notifications
// (Google watch channels, Graph subscriptions and their lifecycle events). It holds no provider credential:
// it reads channels through `PushChannelStore` (PostgreSQL) and writes through `PushImportGate` (Redis).
// Every notification is answered at once; its check and its import happen behind the answer, in a bounded
// inbox. It depends on CalsyncSync (the push types) and Hummingbird; never on a driver or a provider client.
