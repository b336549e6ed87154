package devchain

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	geth "github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/node"

	"github.com/chainpay/chainpay/chains/ethereum"
	"github.com/chainpay/chainpay/contracts/bindings"
)

const (
	// ChainID is the chain id of a dev chain whose Config names none (the simulated backend's).
	ChainID = 1337
	// USDCDecimals is the number of decimals of the dev chain's test USDC.
	USDCDecimals = 6
	// DefaultListen is the JSON-RPC address used when Config.Listen is empty.
	DefaultListen = "127.0.0.1:0"
	// DefaultBlockEvery is the block interval used when Config.BlockEvery is 0.
	DefaultBlockEvery = 2 * time.Second

	// receiptTimeout bounds the wait for a receipt when ctx has no deadline.
	receiptTimeout = 30 * time.Second
	// receiptPoll is how often a receipt is polled after the block is sealed.
	receiptPoll = 5 * time.Millisecond
	// startAttempts is how often Start tries a new free port for Listen port 0.
	startAttempts = 3
)

// Seeds of the fixed development keys: key = keccak256(seed). They make the
// accounts, and so the contract addresses, the same on every start.
const (
	deployerSeed = "chainpay devchain deployer"
	payerSeed    = "chainpay devchain payer"
	sweeperSeed  = "chainpay devchain sweeper"
)

var (
	// ErrPortInUse reports that the configured JSON-RPC address is taken.
	ErrPortInUse = errors.New("port already in use")
	// ErrStopped reports a call on a chain that Stop has stopped.
	ErrStopped = errors.New("dev chain stopped")
	// ErrReverted reports a transaction that was mined but failed.
	ErrReverted = errors.New("transaction reverted")
)

// Config describes a dev chain. The zero value is complete: a free port on
// 127.0.0.1, a block every two seconds, no logging.
type Config struct {
	// Listen is the host:port of the HTTP (and WebSocket) JSON-RPC server;
	// "" means DefaultListen. Port 0 picks a free port.
	Listen string
	// BlockEvery is the interval at which empty or full blocks are sealed;
	// 0 means DefaultBlockEvery. It must not be negative.
	BlockEvery time.Duration
	// Logger receives lifecycle messages; nil discards them.
	Logger *slog.Logger
	// ChainID is the EIP-155 chain id; 0 means ChainID (1337). Two dev chains with
	// different ids stand for two networks (chainpay dev runs "ethereum" and "base").
	ChainID uint64
}

// Chain is a running in-process EVM dev chain. Its methods are safe for
// concurrent use: block sealing (timer, Commit, the Pay methods) is
// serialised by one lock, and the chain's own transactions by another so
// their nonces never collide.
type Chain struct {
	backend *simulated.Backend
	client  simulated.Client
	host    string
	port    int
	chainID uint64
	every   time.Duration
	log     *slog.Logger

	deployer, payer, sweeper *ecdsa.PrivateKey
	factory                  *ethereum.Factory
	usdc                     common.Address
	token                    *bindings.TestToken

	sealMu  sync.Mutex // serialises backend.Commit and guards stopped
	stopped bool
	sendMu  sync.Mutex // serialises nonce lookup and submission of the chain's own transactions
	// nextNonce is the nonce after the last one sent per sender (guarded by sendMu).
	nextNonce map[common.Address]uint64

	cancel   context.CancelFunc
	done     chan struct{} // closed when the block timer has returned
	stopOnce sync.Once
	stopErr  error
}

// Start runs a fresh dev chain: genesis funds the deployer, the payer and the
// sweeper with 1,000,000 ETH each; the deployer deploys the ForwarderFactory
// (which deploys its Forwarder implementation) and a 6-decimal TestToken
// "USDC", and mints the payer 1,000,000,000 USDC; JSON-RPC is then served on
// cfg.Listen and blocks are sealed every cfg.BlockEvery until Stop. ctx bounds
// only the start (the deployment), not the life of the chain. The chain lives in memory: every Start begins at genesis, with
// the same accounts and contract addresses. It fails with ErrPortInUse when
// the address is taken.
func Start(ctx context.Context, cfg Config) (*Chain, error) {
	host, port, err := parseListen(cfg.Listen)
	if err != nil {
		return nil, err
	}
	if cfg.BlockEvery < 0 {
		return nil, fmt.Errorf("devchain: block interval %s must not be negative", cfg.BlockEvery)
	}
	every := cfg.BlockEvery
	if every == 0 {
		every = DefaultBlockEvery
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ChainID == 0 {
		cfg.ChainID = ChainID
	}
	c := &Chain{
		host:      host,
		chainID:   cfg.ChainID,
		every:     every,
		log:       logger,
		token:     bindings.NewTestToken(),
		done:      make(chan struct{}),
		nextNonce: map[common.Address]uint64{},
	}
	for _, k := range []struct {
		key  **ecdsa.PrivateKey
		seed string
	}{{&c.deployer, deployerSeed}, {&c.payer, payerSeed}, {&c.sweeper, sweeperSeed}} {
		if *k.key, err = devKey(k.seed); err != nil {
			return nil, err
		}
	}

	if port != 0 {
		if err := checkPortFree(host, port); err != nil {
			return nil, err
		}
		if c.backend, err = newBackend(c.alloc(), c.chainID, host, port); err != nil {
			return nil, fmt.Errorf("devchain: serve JSON-RPC on %s: %w", net.JoinHostPort(host, strconv.Itoa(port)), err)
		}
		c.port = port
	} else {
		for attempt := 1; ; attempt++ {
			if port, err = freePort(host); err != nil {
				return nil, err
			}
			if c.backend, err = newBackend(c.alloc(), c.chainID, host, port); err == nil {
				c.port = port
				break
			}
			if attempt == startAttempts {
				return nil, fmt.Errorf("devchain: serve JSON-RPC on %s: %w", host, err)
			}
		}
	}
	c.client = c.backend.Client()

	if err := c.deploy(ctx); err != nil {
		close(c.done)
		_ = c.Stop()
		return nil, err
	}
	// The timer runs until Stop; ctx bounds only the start (deployment).
	loopCtx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go c.loop(loopCtx)
	c.log.Info("EVM dev chain started", "rpc", c.RPCURL(), "chain_id", c.chainID, "block_every", every,
		"factory", c.factory.Address().Hex(), "usdc", c.usdc.Hex(), "payer", c.Payer().Hex())
	return c, nil
}

// parseListen splits a host:port (DefaultListen when empty).
func parseListen(listen string) (string, int, error) {
	if listen == "" {
		listen = DefaultListen
	}
	host, portStr, err := net.SplitHostPort(listen)
	if err != nil {
		return "", 0, fmt.Errorf("devchain: listen address %q: want host:port: %w", listen, err)
	}
	if host == "" {
		return "", 0, fmt.Errorf("devchain: listen address %q: empty host (use 127.0.0.1 to serve only this machine)", listen)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("devchain: listen address %q: port %q is not a number in 0-65535", listen, portStr)
	}
	return host, port, nil
}

// checkPortFree reports ErrPortInUse when host:port cannot be bound.
func checkPortFree(host string, port int) error {
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("devchain: JSON-RPC address %s: %w (%v); choose another port or stop the process using it", addr, ErrPortInUse, err)
	}
	return l.Close()
}

func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("devchain: find a free port on %s: %w", host, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// newBackend starts the simulated backend serving HTTP and WebSocket JSON-RPC
// on host:port. simulated.NewBackend panics when the node cannot start (for
// example when the port was taken after checkPortFree); the panic becomes an
// error.
func newBackend(alloc types.GenesisAlloc, chainID uint64, host string, port int) (b *simulated.Backend, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("start simulated backend: %v", r)
			if e, ok := r.(error); ok && isAddrInUse(e) {
				err = fmt.Errorf("%w: %v", ErrPortInUse, e)
			}
		}
	}()
	return simulated.NewBackend(alloc, func(nc *node.Config, ec *ethconfig.Config) {
		nc.HTTPHost, nc.HTTPPort = host, port
		nc.HTTPModules = []string{"eth", "net", "web3"}
		// Any origin: browser wallets and dapps on other local ports may call it.
		nc.HTTPCors = []string{"*"}
		nc.WSHost, nc.WSPort = host, port // same port: the server upgrades WebSocket requests
		nc.WSModules = []string{"eth", "net", "web3"}
		nc.WSOrigins = []string{"*"}
		// Osaka, the fork mainnet runs, rather than the default dev config that
		// also enables unreleased forks with different gas prices.
		gc := *ec.Genesis.Config
		gc.AmsterdamTime, gc.BogotaTime, gc.UBTTime = nil, nil, nil
		gc.ChainID = new(big.Int).SetUint64(chainID)
		ec.Genesis.Config = &gc
		ec.NetworkId = chainID
	}), nil
}

func isAddrInUse(err error) bool {
	return err != nil && strings.Contains(err.Error(), "address already in use")
}

// devKey derives a fixed development key from seed: keccak256(seed).
func devKey(seed string) (*ecdsa.PrivateKey, error) {
	k, err := crypto.ToECDSA(crypto.Keccak256([]byte(seed)))
	if err != nil {
		return nil, fmt.Errorf("devchain: key for seed %q: %w", seed, err)
	}
	return k, nil
}

func (c *Chain) alloc() types.GenesisAlloc {
	funds := new(big.Int).Mul(big.NewInt(1_000_000), big.NewInt(1e18))
	alloc := types.GenesisAlloc{}
	for _, k := range []*ecdsa.PrivateKey{c.deployer, c.payer, c.sweeper} {
		alloc[crypto.PubkeyToAddress(k.PublicKey)] = types.Account{Balance: new(big.Int).Set(funds)}
	}
	return alloc
}

// deploy deploys the factory and USDC and mints the payer's USDC.
func (c *Chain) deploy(ctx context.Context) error {
	r, err := c.send(ctx, c.deployer, nil, nil, common.FromHex(bindings.ForwarderFactoryMetaData.Bin))
	if err != nil {
		return fmt.Errorf("devchain: deploy ForwarderFactory: %w", err)
	}
	fabi := bindings.NewForwarderFactory()
	out, err := c.client.CallContract(ctx, geth.CallMsg{To: &r.ContractAddress, Data: fabi.PackImplementation()}, nil)
	if err != nil {
		return fmt.Errorf("devchain: ForwarderFactory.implementation: %w", err)
	}
	impl, err := fabi.UnpackImplementation(out)
	if err != nil {
		return fmt.Errorf("devchain: ForwarderFactory.implementation: %w", err)
	}
	if c.factory, err = ethereum.NewFactory(r.ContractAddress, impl); err != nil {
		return fmt.Errorf("devchain: %w", err)
	}
	code := append(common.FromHex(bindings.TestTokenMetaData.Bin), c.token.PackConstructor("USD Coin", "USDC", USDCDecimals, false)...)
	if r, err = c.send(ctx, c.deployer, nil, nil, code); err != nil {
		return fmt.Errorf("devchain: deploy USDC: %w", err)
	}
	c.usdc = r.ContractAddress
	// 1,000,000,000 USDC.
	mint := new(big.Int).Mul(big.NewInt(1_000_000_000), big.NewInt(1_000_000))
	if _, err := c.send(ctx, c.deployer, &c.usdc, nil, c.token.PackMint(c.Payer(), mint)); err != nil {
		return fmt.Errorf("devchain: mint USDC to the payer: %w", err)
	}
	return nil
}

// loop seals a block every c.every until ctx (canceled by Stop) ends.
func (c *Chain) loop(ctx context.Context) {
	defer close(c.done)
	t := time.NewTicker(c.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.Commit()
		}
	}
}

// RPCURL returns the HTTP JSON-RPC endpoint, http://host:port. Wallets such as
// MetaMask connect to it with chain id 1337.
func (c *Chain) RPCURL() string {
	return "http://" + net.JoinHostPort(c.host, strconv.Itoa(c.port))
}

// WSURL returns the WebSocket JSON-RPC endpoint on the same port, ws://host:port.
func (c *Chain) WSURL() string {
	return "ws://" + net.JoinHostPort(c.host, strconv.Itoa(c.port))
}

// ChainID returns the chain id (Config.ChainID, default 1337).
func (c *Chain) ChainID() uint64 { return c.chainID }

// Client returns an in-process client of the chain (closed by Stop).
func (c *Chain) Client() simulated.Client { return c.client }

// Factory returns the deployed ForwarderFactory with its implementation,
// ready for deposit addresses (deposit.EVM).
func (c *Chain) Factory() *ethereum.Factory { return c.factory }

// USDC returns the address of the test USDC token (6 decimals).
func (c *Chain) USDC() common.Address { return c.usdc }

// Deployer returns the account that deployed the contracts.
func (c *Chain) Deployer() common.Address { return crypto.PubkeyToAddress(c.deployer.PublicKey) }

// Payer returns the funded customer account that PayETH and PayToken pay from.
func (c *Chain) Payer() common.Address { return crypto.PubkeyToAddress(c.payer.PublicKey) }

// PayerKey returns the payer's fixed key, for importing into a wallet. A
// wallet sending from it at the same time as PayETH or PayToken may collide on
// nonces; use one or the other.
func (c *Chain) PayerKey() *ecdsa.PrivateKey { return c.payer }

// SweeperKey returns the fixed key of the sweeper account, funded with ETH
// for gas only.
func (c *Chain) SweeperKey() *ecdsa.PrivateKey { return c.sweeper }

// Commit seals one block now, with whatever transactions are pending, and
// returns its hash. After Stop it does nothing and returns the zero hash.
func (c *Chain) Commit() common.Hash {
	c.sealMu.Lock()
	defer c.sealMu.Unlock()
	if c.stopped {
		return common.Hash{}
	}
	return c.backend.Commit()
}

// Fork makes the block parent the head of a new branch (the simulated backend's Fork):
// the next Commits build on it, and once that branch is longer than the old one the
// node reorganises to it. Tests use it to reorg one chain while others run.
func (c *Chain) Fork(parent common.Hash) error {
	c.sealMu.Lock()
	defer c.sealMu.Unlock()
	if c.stopped {
		return ErrStopped
	}
	return c.backend.Fork(parent)
}

// PayETH sends wei from the payer to to, seals a block and returns the
// transaction hash once it is mined successfully.
func (c *Chain) PayETH(ctx context.Context, to common.Address, wei *big.Int) (common.Hash, error) {
	return c.PayETHFrom(ctx, c.payer, to, wei)
}

// PayETHFrom is PayETH from the account of key (which must hold the wei and gas: the
// payer, the sweeper, or an account they funded).
func (c *Chain) PayETHFrom(ctx context.Context, key *ecdsa.PrivateKey, to common.Address, wei *big.Int) (common.Hash, error) {
	if wei == nil || wei.Sign() <= 0 {
		return common.Hash{}, fmt.Errorf("devchain: pay ETH: amount %v wei must be positive", wei)
	}
	if to == (common.Address{}) {
		return common.Hash{}, fmt.Errorf("devchain: pay ETH: %w", ethereum.ErrZeroAddress)
	}
	r, err := c.send(ctx, key, &to, wei, nil)
	if err != nil {
		return common.Hash{}, fmt.Errorf("devchain: pay %s wei to %s: %w", wei, to.Hex(), err)
	}
	return r.TxHash, nil
}

// PayToken transfers units (base units of the token) of an ERC-20 token from
// the payer to to, seals a block and returns the transaction hash once it is
// mined successfully. The payer holds only the dev chain's USDC.
func (c *Chain) PayToken(ctx context.Context, token, to common.Address, units *big.Int) (common.Hash, error) {
	return c.PayTokenFrom(ctx, c.payer, token, to, units)
}

// PayTokenFrom is PayToken from the account of key (which must hold the units and gas).
func (c *Chain) PayTokenFrom(ctx context.Context, key *ecdsa.PrivateKey, token, to common.Address, units *big.Int) (common.Hash, error) {
	if units == nil || units.Sign() <= 0 {
		return common.Hash{}, fmt.Errorf("devchain: pay token: amount %v must be positive", units)
	}
	if token == (common.Address{}) {
		return common.Hash{}, fmt.Errorf("devchain: pay token: token: %w", ethereum.ErrZeroAddress)
	}
	if to == (common.Address{}) {
		return common.Hash{}, fmt.Errorf("devchain: pay token: recipient: %w", ethereum.ErrZeroAddress)
	}
	if err := c.live(); err != nil {
		return common.Hash{}, err
	}
	code, err := c.client.CodeAt(ctx, token, nil)
	if err != nil {
		return common.Hash{}, fmt.Errorf("devchain: pay token: code at %s: %w", token.Hex(), err)
	}
	if len(code) == 0 {
		return common.Hash{}, fmt.Errorf("devchain: pay token: no contract at %s", token.Hex())
	}
	r, err := c.send(ctx, key, &token, nil, c.token.PackTransfer(to, units))
	if err != nil {
		return common.Hash{}, fmt.Errorf("devchain: pay %s units of %s to %s: %w", units, token.Hex(), to.Hex(), err)
	}
	return r.TxHash, nil
}

// BalanceAt returns the ETH balance of account in wei at the latest block.
func (c *Chain) BalanceAt(ctx context.Context, account common.Address) (*big.Int, error) {
	if err := c.live(); err != nil {
		return nil, err
	}
	b, err := c.client.BalanceAt(ctx, account, nil)
	if err != nil {
		return nil, fmt.Errorf("devchain: balance of %s: %w", account.Hex(), err)
	}
	return b, nil
}

// TokenBalanceAt returns the balance of account in token's base units at the
// latest block.
func (c *Chain) TokenBalanceAt(ctx context.Context, token, account common.Address) (*big.Int, error) {
	if err := c.live(); err != nil {
		return nil, err
	}
	out, err := c.client.CallContract(ctx, geth.CallMsg{To: &token, Data: c.token.PackBalanceOf(account)}, nil)
	if err != nil {
		return nil, fmt.Errorf("devchain: token %s balance of %s: %w", token.Hex(), account.Hex(), err)
	}
	v, err := c.token.UnpackBalanceOf(out)
	if err != nil {
		return nil, fmt.Errorf("devchain: token %s balance of %s: %w", token.Hex(), account.Hex(), err)
	}
	return v, nil
}

func (c *Chain) live() error {
	c.sealMu.Lock()
	defer c.sealMu.Unlock()
	if c.stopped {
		return ErrStopped
	}
	return nil
}

// send signs a transaction from key (to nil = contract creation), submits it,
// seals a block and waits for the receipt; a reverted receipt is ErrReverted.
func (c *Chain) send(ctx context.Context, key *ecdsa.PrivateKey, to *common.Address, value *big.Int, data []byte) (*types.Receipt, error) {
	if err := c.live(); err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, receiptTimeout)
		defer cancel()
	}
	if value == nil {
		value = new(big.Int)
	}
	tx, err := c.submit(ctx, key, to, value, data)
	if err != nil {
		return nil, err
	}
	c.Commit()
	r, err := c.waitReceipt(ctx, tx.Hash())
	if err != nil {
		return nil, err
	}
	if r.Status != types.ReceiptStatusSuccessful {
		return r, fmt.Errorf("%w: %s", ErrReverted, tx.Hash().Hex())
	}
	return r, nil
}

// submit signs and sends a transaction with the sender's next pending nonce.
func (c *Chain) submit(ctx context.Context, key *ecdsa.PrivateKey, to *common.Address, value *big.Int, data []byte) (*types.Transaction, error) {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	from := crypto.PubkeyToAddress(key.PublicKey)
	nonce, err := c.client.PendingNonceAt(ctx, from)
	if err != nil {
		return nil, fmt.Errorf("nonce of %s: %w", from.Hex(), err)
	}
	// The pool's pending nonce lags for a moment after a block is sealed concurrently;
	// never reuse a nonce this chain already sent.
	if next := c.nextNonce[from]; next > nonce {
		nonce = next
	}
	gas, err := c.client.EstimateGas(ctx, geth.CallMsg{From: from, To: to, Value: value, Data: data})
	if err != nil {
		return nil, fmt.Errorf("estimate gas: %w", err)
	}
	head, err := c.client.HeaderByNumber(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("latest header: %w", err)
	}
	tip := big.NewInt(1e9)
	feeCap := new(big.Int).Add(new(big.Int).Mul(head.BaseFee, big.NewInt(2)), tip)
	chainID := new(big.Int).SetUint64(c.chainID)
	tx, err := types.SignNewTx(key, types.LatestSignerForChainID(chainID), &types.DynamicFeeTx{
		ChainID: chainID, Nonce: nonce, GasTipCap: tip, GasFeeCap: feeCap, Gas: gas, To: to, Value: value, Data: data,
	})
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	if err := c.client.SendTransaction(ctx, tx); err != nil {
		return nil, fmt.Errorf("send: %w", err)
	}
	c.nextNonce[from] = nonce + 1
	return tx, nil
}

// waitReceipt polls for a receipt until ctx ends. The block is normally
// sealed already; polling covers the moment the node is still indexing it.
func (c *Chain) waitReceipt(ctx context.Context, h common.Hash) (*types.Receipt, error) {
	tick := time.NewTicker(receiptPoll)
	defer tick.Stop()
	for {
		r, err := c.client.TransactionReceipt(ctx, h)
		if err == nil {
			return r, nil
		}
		if !errors.Is(err, geth.NotFound) && !strings.Contains(err.Error(), "indexing is in progress") {
			return nil, fmt.Errorf("receipt %s: %w", h.Hex(), err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("receipt %s: %w", h.Hex(), ctx.Err())
		case <-tick.C:
		}
	}
}

// Stop stops the block timer, waits for it, and shuts the node down (closing
// the JSON-RPC server). It is idempotent and returns the first shutdown
// error on every call. The chain's state is lost.
func (c *Chain) Stop() error {
	c.stopOnce.Do(func() {
		if c.cancel != nil {
			c.cancel()
		}
		<-c.done
		c.sealMu.Lock()
		c.stopped = true
		c.sealMu.Unlock()
		if err := c.backend.Close(); err != nil {
			c.stopErr = fmt.Errorf("devchain: close node: %w", err)
		}
		c.log.Info("EVM dev chain stopped", "rpc", c.RPCURL())
	})
	return c.stopErr
}
