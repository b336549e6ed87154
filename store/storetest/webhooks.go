package storetest

// webhookTests are the conformance tests of store.WebhookTx.
func webhookTests() []namedTest { return nil }
