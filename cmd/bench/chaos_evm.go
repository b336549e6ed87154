package main

import (
	"context"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/chainpay/chainpay/chains/ethereum"
	"github.com/chainpay/chainpay/chains/ethereum/gethtest"
	"github.com/chainpay/chainpay/contracts/bindings"
)

// evmChaos is the EVM side of a chaos run: a real geth --dev node (the pinned build of
// scripts/tools.sh) with chainpay's ForwarderFactory and a 6-decimal USDC deployed, and a
// block sealed every evmBlockEvery so that confirmations move (geth --dev.period 0 seals
// only when a transaction arrives).
type evmChaos struct {
	node    *gethtest.Node
	factory *ethereum.Factory
	usdc    common.Address
	stop    context.CancelFunc
	wg      sync.WaitGroup
}

const (
	evmBlockEvery    = time.Second
	evmConfirmations = 2
)

func startEVMChaos(dir string) (*evmChaos, error) {
	node, err := gethtest.Launch(dir)
	if err != nil {
		return nil, fmt.Errorf("start geth --dev (build it with scripts/tools.sh or set CHAINPAY_TOOLS_BIN): %w", err)
	}
	e := &evmChaos{node: node}
	if e.factory, err = node.TryDeployFactory(); err != nil {
		node.Stop()
		return nil, err
	}
	if e.usdc, err = node.TryDeployToken("USD Coin", "USDC", 6); err != nil {
		node.Stop()
		return nil, err
	}
	mint := bindings.NewTestToken().PackMint(node.DevAddress(), new(big.Int).Exp(big.NewInt(10), big.NewInt(15), nil))
	if err := e.send(&e.usdc, nil, mint, 0); err != nil {
		node.Stop()
		return nil, fmt.Errorf("mint USDC: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.stop = cancel
	self := node.DevAddress()
	e.wg.Go(func() {
		t := time.NewTicker(evmBlockEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				_, _ = node.TrySend(nil, &self, nil, nil, 21_000) // an empty-ish block
			}
		}
	})
	return e, nil
}

// env is serve's EVM configuration for the node.
func (e *evmChaos) env() []string {
	return []string{"CHAINPAY_ETHEREUM_RPC=" + e.node.RPCURL(), "CHAINPAY_ETHEREUM_WS=" + e.node.WSURL(),
		fmt.Sprintf("CHAINPAY_ETHEREUM_CHAIN_ID=%d", gethtest.ChainID),
		"CHAINPAY_ETHEREUM_FACTORY=" + e.factory.Address().Hex(),
		"CHAINPAY_ETHEREUM_TOKENS=USDC=" + e.usdc.Hex() + ":6",
		fmt.Sprintf("CHAINPAY_ETHEREUM_CONFIRMATIONS=%d", evmConfirmations), "CHAINPAY_ETHEREUM_POLL=200ms"}
}

// pay sends units of asset (ETH or USDC) from the developer account to a deposit address
// and waits until the transaction is mined.
func (e *evmChaos) pay(asset, address string, units *big.Int) error {
	to, err := ethereum.ParseAddress(address)
	if err != nil {
		return err
	}
	switch asset {
	case "ETH":
		return e.send(&to, units, nil, 21_000)
	case "USDC":
		return e.send(&e.usdc, nil, bindings.NewTestToken().PackTransfer(to, units), 0)
	}
	return fmt.Errorf("no EVM asset %q in the chaos run", asset)
}

func (e *evmChaos) send(to *common.Address, value *big.Int, data []byte, gas uint64) error {
	r, err := e.node.TrySend(nil, to, value, data, gas)
	if err != nil {
		return err
	}
	if r.Status != types.ReceiptStatusSuccessful {
		return fmt.Errorf("transaction %s reverted", r.TxHash.Hex())
	}
	return nil
}

// mine seals one block now.
func (e *evmChaos) mine() error {
	self := e.node.DevAddress()
	return e.send(&self, nil, nil, 21_000)
}

func (e *evmChaos) close() {
	if e.stop != nil {
		e.stop()
	}
	e.wg.Wait()
	e.node.Stop()
}
