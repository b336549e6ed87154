// Package devchain runs an in-process EVM development chain for `chainpay
// dev`: go-ethereum's simulated backend (ethclient/simulated) serving real
// JSON-RPC over HTTP and WebSocket on one port, so chainpay's watcher,
// MetaMask or any other wallet connect to it like to a public node.
//
//	chain, err := devchain.Start(ctx, devchain.Config{Listen: "127.0.0.1:8545"})
//	if err != nil { ... }
//	defer chain.Stop()
//	addr, _ := chain.Factory().DepositAddress(invoiceID, treasury)
//	txid, err := chain.PayToken(ctx, chain.USDC(), addr, big.NewInt(25_000_000)) // 25 USDC, mined
//
// # Chain
//
// The chain id is 1337 (the simulated backend's, like geth --dev). The
// genesis config is the dev config stopped at Osaka, the fork Ethereum
// mainnet runs, so gas costs match mainnet. Blocks are sealed on a timer
// ([Config.BlockEvery], two seconds by default, empty blocks included),
// on demand with [Chain.Commit], and by [Chain.PayETH] and [Chain.PayToken],
// which return once their transaction is mined. Transactions that wallets
// send over JSON-RPC wait in the pool for the next block. Block tags behave
// like geth --dev: safe equals latest, and finalized moves in steps of 32
// blocks (at head n it is n rounded down to a multiple of 32, n itself when
// n is one), so a payment becomes finalized up to 31 blocks, about a minute at
// 2 s a block, after it is mined.
//
// # Accounts and contracts
//
// Three accounts have fixed keys, keccak256 of a fixed seed, and 1,000,000
// ETH each in genesis: the deployer, the payer (a customer, also holding
// 1,000,000,000 USDC) and the sweeper (it only pays gas for sweeps). On start
// the deployer deploys, in this order, the ForwarderFactory (whose
// constructor deploys the Forwarder implementation) and the 6-decimal
// TestToken "USDC", then mints the payer's USDC. Because the keys and the
// order are fixed, every start yields the same addresses:
//
//	deployer          0x73b0bD7E7e7f5ea52AF414EC50168c3094A42392  keccak256("chainpay devchain deployer")
//	payer             0x7C388c98474B7B8e1a6319D36ACee93Cb51181AC  keccak256("chainpay devchain payer")
//	sweeper           0x71e3Bdf31F76f737A0A43Ab325Ff4CeF3704f27e  keccak256("chainpay devchain sweeper")
//	ForwarderFactory  0xB0154a3397d75344D1F74230C7dd76dC7215e656  deployer nonce 0
//	USDC (6 decimals) 0xdE5F3887f0441c4649F21c38E8d9Cd0e04E2bef4  deployer nonce 1
//
// TestAddressesAreFixed pins them. The keys are public knowledge: never send
// real funds to these addresses on any other chain. [Chain.PayerKey] gives
// the payer's key for importing into a wallet such as MetaMask (network: the
// RPC URL, chain id 1337, currency ETH).
//
// # Concurrency
//
// The simulated backend's Commit is not safe for concurrent use; one lock
// serialises every seal (timer, Commit, the Pay methods), and another the
// nonce lookup and submission of the chain's own transactions. JSON-RPC
// clients run concurrently with both, as with a real node.
//
// # Restarts
//
// State lives in memory only. Stop discards it and every Start begins a new
// chain at genesis: the same accounts and contract addresses, but block
// numbers, balances and transactions start over. An application that stored
// chain positions (a watcher cursor) across a restart must treat them as
// gone.
package devchain
