// Package sweeper moves what EVM deposit addresses hold to the merchants' treasuries, by
// balance: whatever the invoice's status (settled, expired, cancelled, invalid, never
// paid), as often as funds arrive.
//
// Every EVM deposit address is the CREATE2 address of a forwarder whose destination (the
// merchant's treasury) is part of the address itself (see package chains/ethereum). Each
// round of a [Service]:
//
//  1. settles the sweeps it sent earlier: one whose receipt is Config.Confirmations deep is
//     marked confirmed (or reverted) and booked through Config.OnFinished in the same
//     transaction (cmd/chainpay books the gas as a ledger fee record); one with no receipt
//     whose nonce another transaction used (replaced, or reorged out with the nonce taken
//     on the new branch) is marked dropped and its forwarders are read and swept again; any
//     other is broadcast again (a node that lost it, a reorg that returned it to the pool);
//  2. reads the balances (native coin and configured tokens) of the candidate forwarders
//     (store.SweepTx.SweepCandidates: those of invoices still monitored or whose
//     monitoring ended since the last complete round, and every one left holding funds) and
//     records them: they are the unswept balances the API, the CLI and the metrics show;
//  3. sends one ForwarderFactory.deployAndFlush per wallet and batch of Config.MaxBatch for
//     the forwarders worth sweeping: holding at least Config.MinValueMultiple times the gas
//     their part of the sweep costs (ethereum.ForwarderSweepGas at the current base fee plus
//     tip; tokens priced through Config.Worth, swept whatever their amount when no price is
//     known). Smaller balances wait, visible, until they grow. Deployment happens on the
//     first sweep; a deployed forwarder forwards ETH on receipt by itself.
//
// A sweep is recorded (with its signed bytes) before it is broadcast, so a crash never
// loses track of one; nothing is marked swept or booked before its confirmations, and
// forwarders in an open sweep keep their recorded balances until it is finished.
//
// [Service.Flush] sweeps one ERC-20 that need not be configured (DAI sent to a USDC
// invoice's address) from every forwarder, or one invoice's: `chainpay sweep`.
//
// # The sweeper key pays gas and nothing else
//
// The Service signs with a key (Config.Key) whose only power is paying gas: no function of
// the factory or the forwarders takes a recipient, and a forwarder only ever pays the
// destination its address was derived from. The Service also refuses to sweep a forwarder
// whose stored address is not the one derived from its invoice and wallet treasury
// (ErrNotDerived): sweeping it would deploy and flush another, empty address, round after
// round, paying gas for nothing. Keep the key's balance small; ops warns when it runs low.
//
// # Failures
//
// Before sending, the Service estimates gas, which simulates the call: a batch that would
// revert is split in halves and retried, down to single forwarders; a single one that
// still reverts (a token whose transfer fails, a treasury that refuses ETH) is reported in
// Result.Failed, logged, and skipped for Config.RetryAfter, as are the forwarders of a
// sweep that reverts on chain. Transport errors end the round; nothing is lost, the next
// round starts over from the balances.
//
// With Config.Holder set, only the holder of the lease "sweeper:<chain>" runs rounds, so
// replicas sharing a database and a key do not collide on nonces. Flush takes no lease:
// run `chainpay sweep` while no round is sending, or accept that a collision drops one
// sweep, which is redone (gas, not funds, is lost).
package sweeper
