// Package regtest runs a real btcd node in regression-test mode as a child
// process, together with a small P2WPKH wallet that receives every coinbase.
// It is the Bitcoin half of `chainpay dev` and the engine under the test
// harness btcdtest; it never imports "testing" and reports every failure as an
// error.
//
//	node, err := regtest.Start(ctx, regtest.Config{})
//	if err != nil { ... }
//	defer node.Stop()
//	txid, err := node.Pay(ctx, addr, 150_000) // mines up to height 432 first
//	_, err = node.Mine(ctx, 1)
//
// # Process
//
// [Start] launches btcd with --regtest on 127.0.0.1 (a free port unless
// [Config.RPCPort] names one), RPC over plain HTTP (--notls) with a random
// user and password, no peer listener, and an empty config file so a user's
// ~/.btcd/btcd.conf cannot change its behaviour. It waits until the RPC server
// answers. [Node.Stop] interrupts the process, kills it after a grace period
// and waits for it. The binary is the pinned build of ./scripts/tools.sh,
// found by [FindBtcd]; [BuildBtcd] produces it with `go install`.
//
// # Wallet
//
// The node owns one secp256k1 key ([Config.MiningKey], random by default)
// whose P2WPKH address is btcd's --miningaddr, so every block mined through
// [Node.Mine] pays its coinbase to the wallet. [Node.Pay] and [Node.Send]
// build, sign and broadcast transactions from those coins. Coins are checked
// with gettxout before they are spent, so reorgs (InvalidateBlock) only cost a
// lookup; outputs already spent by the wallet's own mempool transactions are
// tracked locally, because gettxout does not reflect mempool spends of
// confirmed outputs.
//
// Spending a P2WPKH output needs segwit, which btcd v0.24.2 activates on
// regtest at height 432 (measured: at tip 430 sendrawtransaction rejects
// witness spends, at tip 431 it accepts them), and a coinbase needs 100
// confirmations. [Node.Fund] mines the chain up to [SegwitHeight] when it is
// shorter; at that tip the coinbases of heights 1 to 333 have 100
// confirmations (11,625 BTC on regtest's 150-block halving schedule), so the
// wallet can pay at once. Pay and Send fund by themselves, and mine another 100 blocks when
// every mature coin is spent.
//
// # Restarts
//
// btcd deletes its regtest database on every start (btcd.go
// removeRegressionDB; observed: 432 blocks mined, restart with the same
// --datadir, getblockcount answers 0). [Node.Restart] therefore restarts the
// process on the same port with the same credentials and an empty chain, and
// empties the wallet. A `chainpay dev` restart likewise begins a new Bitcoin
// chain: whatever the application stored about earlier blocks is stale.
package regtest
