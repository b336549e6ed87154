// Package sweeper moves the deposits of settled EVM invoices to their merchants'
// treasuries.
//
// Every EVM deposit address is the CREATE2 address of a forwarder whose destination (the
// merchant's treasury) is part of the address itself (see package chains/ethereum). A
// [Service] periodically takes the invoices waiting to be swept from a [Queue], groups
// them by destination and token list, and sends one ForwarderFactory.deployAndFlush
// transaction per batch: each deploys the forwarders not deployed yet and flushes their
// ETH and token balances to that destination.
//
// # The sweeper key pays gas and nothing else
//
// The Service signs with a key (Config.Key) whose only power is paying gas: no function of
// the factory or the forwarders takes a recipient, and a forwarder only ever pays the
// destination its address was derived from. The destination in a queue Item is an input
// to the address derivation, not a recipient: an Item naming another destination (a bug,
// or a tampered database) makes the factory deploy and flush forwarders at other, empty
// addresses, and the funds stay where they are until swept to the right treasury. The
// tests show this with the real contracts: only the treasury balance grows, and the
// sweeper's balance only falls by the gas it paid. Keep the key's balance small.
//
// # Failures
//
// Before sending, the Service estimates gas, which simulates the call: a batch that would
// revert is split in halves and retried, down to single invoices; a single invoice that
// still reverts (a token whose transfer fails, say) is reported in Result.Failed, logged,
// and skipped for Config.RetryAfter. A mined transaction that reverts is handled the same
// way. Transport errors end the round; its items stay pending and are retried next round.
// A transaction that is not mined within Config.ReceiptTimeout leaves its items pending;
// sweeping them again is harmless (deployAndFlush is idempotent: it deploys only what is
// missing and flushes what is there), it only costs gas.
//
// Receipts are polled every Config.PollInterval (default 100 ms; bind.WaitMined polls once a
// second), and items are marked swept once the receipt is Config.Confirmations deep.
package sweeper
