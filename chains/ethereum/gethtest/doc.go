// Package gethtest runs a real geth node in developer mode for tests.
//
// [Start] launches the pinned geth binary (built by ./scripts/tools.sh) as
//
//	geth --dev --dev.period 0 --http --ws ... (in memory: no --datadir)
//
// on free 127.0.0.1 ports, waits until JSON-RPC answers, and registers a cleanup
// that stops the process. The binary is found through $CHAINPAY_TOOLS_BIN, else
// $HOME/.cache/chainpay/tools/bin; when neither holds geth the test fails (never
// skips) with a message naming ./scripts/tools.sh.
//
// # The developer account
//
// Without a keystore, geth --dev funds one fixed, publicly known key
// (cmd/utils.DeveloperKey, b71c71a6...f291, address
// 0x71562b71999873DB5b286dF957af199Ec94617F7) with 2^256−9 wei. [Node.DevKey]
// returns it; the harness signs transactions with it in the test process, so no
// personal_* or eth_sendTransaction API is needed. Chain id is 1337.
//
// # Blocks
//
// With --dev.period 0 geth seals a block only when a transaction arrives, one
// block per transaction. [Node.Send] waits for the receipt by polling every 5 ms
// (bind.WaitMined polls once a second). [Node.Mine] produces empty-ish blocks by
// sending zero-value self-transfers from a dedicated key, which a test needs to
// move the tip (confirmations) or the `finalized` tag (steps of 32 blocks).
//
// # Contracts
//
// [Node.DeployFactory] deploys chainpay's ForwarderFactory and returns the
// chains/ethereum.Factory describing it; [Node.DeployToken] deploys the test
// ERC-20 with any decimals; [Node.MintTokens] and [Node.SendTokens] move tokens.
package gethtest
