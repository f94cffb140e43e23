package audit

// Digest is the record hash, for tests that rebuild a chain as a database owner would.
var Digest = digest
