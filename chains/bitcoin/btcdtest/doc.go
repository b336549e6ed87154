// Package btcdtest runs a real btcd node in regression-test mode for tests.
// It is a thin testing.TB wrapper over package regtest (which `chainpay dev`
// uses too): every method fails the test instead of returning an error, and
// the node lives in t.TempDir() and stops when the test ends.
//
// [Start] launches the pinned btcd binary (built by ./scripts/tools.sh) with
// --regtest on a free 127.0.0.1 port, RPC over plain HTTP (--notls) with a
// random user and password, and a temporary data directory. It waits until
// the RPC server answers and registers a cleanup that stops the process, so a
// test only writes:
//
//	node := btcdtest.Start(t)
//	node.Mine(t, 1)
//	txid := node.Pay(t, addr, 150_000)
//
// The binary is found through $CHAINPAY_TOOLS_BIN, else the directory
// ./scripts/tools.sh installs into ($CHAINPAY_TOOLS_DIR/bin, else
// $XDG_CACHE_HOME/chainpay/tools/bin, else $HOME/.cache/chainpay/tools/bin);
// when none holds btcd the test fails (never skips) with a message naming
// ./scripts/tools.sh.
//
// # Wallet
//
// Each node owns a fresh secp256k1 key whose P2WPKH address is btcd's
// --miningaddr, so every block mined through [Node.Mine] pays its coinbase to
// the harness. [Node.Pay] and [Node.Send] build, sign and broadcast
// transactions from those coinbases. The harness signs in the test process
// only: chainpay itself never holds keys.
//
// Spending a P2WPKH output needs segwit, which btcd v0.24.2 activates on
// regtest at height 432, and a coinbase needs 100 confirmations. Mining 432
// blocks takes about 0.1 s, so the first payment simply mines the chain up to
// height 432 (coinbases at heights 1 to 332 are then mature). This was chosen
// over a P2PKH mining key because the payments are then segwit transactions,
// which is what the product's block decoding meets on real networks.
//
// # Restarts
//
// btcd deletes its regtest database on every start (btcd.go removeRegressionDB;
// observed: 432 blocks mined, restart with the same --datadir, getblockcount
// answers 0). [Node.Restart] therefore restarts the process on the same port
// with an empty chain, and forgets the wallet's coins.
package btcdtest
