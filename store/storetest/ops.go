package storetest

// opsTests are the conformance tests of store.OpsTx.
func opsTests() []namedTest { return nil }
