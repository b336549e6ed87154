// Package watcher follows each configured chain exactly once and turns what it sees into
// payments and invoice state changes.
//
// A Follower keeps a cursor (height + hash of the last processed block) and the recent
// block hashes in the store. Each step it reads the node's tip and processes the blocks
// after its cursor strictly in order. A block whose parent is not the cursor's hash means a
// reorg: the follower walks its recorded hashes back to the newest one the node still has
// (the common ancestor), moves the payments of the orphaned blocks back to unconfirmed,
// rewinds the cursor there and re-applies the new branch. Each block's payments, the invoice state
// changes they cause, their events and the new cursor commit in ONE transaction, so a crash
// at any point neither loses nor repeats a payment (payments are unique on chain + txid +
// output index). After downtime the follower simply continues from its cursor; while it
// catches up it reads blocks ahead of the one it applies and commits the blocks already
// fetched together (each block still reviewed in order inside that one transaction), so
// catching up runs at about the node's block-fetch speed.
//
// A Runner steps its follower on a poll interval and, with a Notifier, as soon as the node
// reports a new block: btcd's JSON-RPC websocket (notifyblocks, BtcdNotifier) or an EVM
// node's eth_subscribe("newHeads") over a WebSocket (EthereumNotifier). Notifiers reconnect
// with backoff and only wake the runner; polling stays the safety net. bitcoind has no
// such websocket (it publishes blocks over ZMQ, not supported here): a Bitcoin follower of
// bitcoind polls only.
//
// Unconfirmed payments come from the node's mempool and are recorded as such; one that
// leaves the mempool without being mined (replaced, double-spent, evicted) is marked
// removed after it has been missing from two consecutive snapshots; that is also how a
// payment orphaned by a reorg and not mined again (a double spend) disappears, and how an
// invoice settled on it gets the reorged flag. On chains without a visible mempool an
// orphaned payment stays pending for Config.OrphanGraceBlocks blocks before it is removed.
//
// What to watch (issue 22): a source reports candidate transfers, and the follower matches
// them in the store (store.Tx.WatchedAt: the options at those addresses whose invoices are
// monitored until CloseGrace before the chain time, or have a payment on the chain still
// unconfirmed or shallower than the reorg depth), inside the transaction that records them.
// It holds no address map for a source that reports every transfer (BitcoinSource), so its
// memory does not grow with the open invoices, and an option is matched as soon as it is
// committed, whatever the commit order or the creating replica's clock. A mempool
// transaction is matched when it was not in the previous snapshot (or the follower's lease
// lapsed since), and again when the commit-ordered option feed (store.OptionFeed) names a
// new option at one of its addresses.
// A filtered source, which needs the addresses themselves (Source.Filtered, a Watcher: the
// EthereumSource reconciles their balances), is handed them from the watch list and the
// feed, and loses those of closed invoices (Unwatcher). At each block the follower reviews the invoices that block
// made due (payments reaching their confirmations at its height, expiry and the end of
// monitoring by its time: store.InvoicesDue), and at the tip those the chain time made due,
// every one of them, with batched reads (Invoices.ReviewManyTx).
//
// Chain semantics (DESIGN §4, docs/invoices.md): the follower keeps a chain time with its
// cursor (the applied block's time while catching up, the wall clock at the fresh tip of a
// synced node) and invoices are judged against it; a payment's sighting time is its first
// mempool sighting (the node's first-seen time where offered) or its block's time, and an
// RBF replacement keeps the sighting time of the payment it replaces (same spent outpoint).
// A node answering behind the cursor is waited for: the follower rewinds only on a proven
// hash mismatch. Transfers that cannot be payments are skipped and counted. Every store
// closure is retry-safe: in-memory state changes only after commit (the tests run every
// closure twice through storetest.RetryTwice).
package watcher
