package storetest

// ledgerTests are the conformance tests of store.LedgerTx.
func ledgerTests() []namedTest { return nil }
