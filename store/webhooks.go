package store

// WebhookTx is the part of the storage contract that the webhooks package uses: endpoints and
// the delivery log. Its methods are implemented in sqldb/webhooks.go.
type WebhookTx interface{}
