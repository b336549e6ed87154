package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"strconv"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/shopspring/decimal"

	"github.com/chainpay/chainpay/chains/ethereum"
	"github.com/chainpay/chainpay/deposit"
	"github.com/chainpay/chainpay/ledger"
	"github.com/chainpay/chainpay/money"
	"github.com/chainpay/chainpay/ops"
	"github.com/chainpay/chainpay/rates"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/sweeper"
)

// Defaults of the sweeper settings.
const (
	defaultSweepMinMultiple = sweeper.DefaultMinValueMultiple
	// defaultSweeperGasWarn is the sweeper key balance below which /readyz warns: about
	// 20 single-forwarder sweeps at 20 gwei.
	defaultSweeperGasWarn = "0.05"
)

// newSweeper builds the sweeper of the EVM chain e over st: it sweeps forwarders by balance
// and books each mined sweep's gas as a ledger fee record in the transaction that confirms it.
func newSweeper(st store.Store, w *wiring, e *ethWiring, client sweeper.Client, log *slog.Logger) (*sweeper.Service, error) {
	native := money.Asset{Code: cmp.Or(e.native, "ETH"), Scale: 18, Chain: e.chain}
	confs := e.confs
	if confs == 0 {
		confs = deposit.DefaultEVMConfirmations
	}
	var toks []sweeper.Token
	for _, t := range e.tokens {
		toks = append(toks, sweeper.Token{Code: t.code, Contract: t.contract, Decimals: t.decimals})
	}
	network := strconv.FormatUint(e.chainID, 10)
	// Chains with the factory at the same address share deposit addresses: a flush of one
	// invoice here may take its forwarders handed out there (wrong-chain payments).
	var siblings []string
	for _, o := range w.evm {
		if o != e && o.factory != nil && e.factory != nil && o.factory.Address() == e.factory.Address() &&
			o.factory.InitCodeHash() == e.factory.InitCodeHash() {
			siblings = append(siblings, o.chain)
		}
	}
	cfg := sweeper.Config{Client: client, Store: st, Chain: e.chain, Factory: e.factory, ChainID: e.chainID,
		Key: e.sweeperKey, Native: native.Code, Tokens: toks, MinValueMultiple: e.sweepMinMultiple, Confirmations: confs,
		Interval: e.sweepInterval, Holder: w.holder, Logger: log, Siblings: siblings,
		OnFinished: func(ctx context.Context, tx store.Tx, s store.EVMSweep, depth int64) error {
			if s.Fee == nil || s.Fee.Sign() == 0 {
				return nil // nothing paid (a zero-fee dev chain)
			}
			rec, err := ledger.CollectionFeeRecord(ledger.CollectionFee{MerchantID: s.MerchantID, Native: native,
				Network: network, TxHash: s.TxHash, BlockHeight: *s.BlockNumber, BlockHash: s.BlockHash, Confirmations: depth,
				Fee: s.Fee, Forwarders: len(s.Addresses), Reverted: s.Status == store.SweepReverted, OccurredAt: *s.FinishedAt})
			if err != nil {
				return err
			}
			return ledger.EnqueueTx(ctx, tx, rec, *s.FinishedAt)
		}}
	if w.rates != nil {
		cfg.Worth = tokenWorth(w.rates, w.pairs, native.Code, e.tokens)
	}
	return sweeper.New(cfg)
}

// pairQuoter is what tokenWorth needs of the rates service.
type pairQuoter interface {
	Quote(ctx context.Context, p rates.Pair) (rates.Aggregate, error)
}

// tokenWorth prices a token amount in wei of the native asset through a currency both are
// quoted in (the first configured pair's quote currency that quotes both).
func tokenWorth(q pairQuoter, pairs []rates.Pair, native string, tokens []ethToken) func(context.Context, string, *big.Int) (*big.Int, bool) {
	decimals := map[string]uint8{}
	for _, t := range tokens {
		decimals[t.code] = t.decimals
	}
	var currencies []string
	for _, p := range pairs {
		if p.Base == native {
			currencies = append(currencies, p.Quote)
		}
	}
	return func(ctx context.Context, code string, amount *big.Int) (*big.Int, bool) {
		dec, ok := decimals[code]
		if !ok {
			return nil, false
		}
		for _, cur := range currencies {
			t, err := q.Quote(ctx, rates.Pair{Base: code, Quote: cur})
			if err != nil {
				continue
			}
			n, err := q.Quote(ctx, rates.Pair{Base: native, Quote: cur})
			if err != nil || n.Rate.Sign() <= 0 {
				continue
			}
			// wei = amount / 10^dec × token rate / native rate × 10^18
			v := decimal.NewFromBigInt(amount, 18-int32(dec)).Mul(t.Rate).DivRound(n.Rate, 0)
			return v.BigInt(), true
		}
		return nil, false
	}
}

// runSweep is `chainpay sweep`: a one-off flush of any ERC-20 (configured or not) from the
// forwarders to their treasuries, with the serve settings for the EVM node and sweeper key.
func runSweep(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sweep", flag.ContinueOnError)
	load := commonSettings(fs)
	var ss serveSettings
	ss.register(fs)
	var network, token, invoiceID string
	fs.StringVar(&network, "network", "", "EVM chain of the wallets to flush: its name or chain id (as `wallet list` shows it)")
	fs.StringVar(&token, "token", "", "ERC-20 contract address to flush, configured or not (e.g. DAI sent to a USDC invoice)")
	fs.StringVar(&invoiceID, "invoice", "", "flush only this invoice's deposit address (default: every one handed out); also when the invoice offered only another EVM chain with the same factory address and was paid on this one")
	if err := applyConfig(fs, args); err != nil {
		return err
	}
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	tok, err := ethereum.ParseAddress(token)
	if err != nil || tok == (common.Address{}) {
		return &usageError{fmt.Sprintf("--token %q: want the token's 0x contract address", token)}
	}
	if network == "" {
		return &usageError{"--network is required: the EVM chain's name or chain id (e.g. base or 8453)"}
	}
	c, err := load()
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: c.LogLevel}))
	st, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	defer st.Close()
	if applied, latest, err := st.MigrationStatus(ctx); err != nil || applied != latest {
		return fmt.Errorf("database schema is at version %d, this build needs %d: run `chainpay migrate` first", applied, latest)
	}
	evms, err := ss.evmWirings(ctx, logger)
	if err != nil {
		return err
	}
	if len(evms) == 0 {
		return &usageError{"no EVM chain is configured (CHAINPAY_EVM_CHAINS or CHAINPAY_ETHEREUM_RPC)"}
	}
	var ew *ethWiring
	var known []string
	for _, e := range evms {
		if network == e.chain || network == strconv.FormatUint(e.chainID, 10) {
			ew = e
		}
		known = append(known, fmt.Sprintf("%s (chain id %d)", e.chain, e.chainID))
	}
	if ew == nil {
		return &usageError{fmt.Sprintf("--network %s: no configured EVM chain has that name or chain id (configured: %s)", network, strings.Join(known, ", "))}
	}
	if ew.sweeperKey == nil {
		return &usageError{"CHAINPAY_SWEEPER_KEY_FILE is required: its key pays the gas (and can move funds nowhere but the treasuries)"}
	}
	client, err := ethclient.DialContext(ctx, ew.rpc[0])
	if err != nil {
		return &settingError{ew.setting("rpc"), err.Error()}
	}
	defer client.Close()
	svc, err := newSweeper(st, &wiring{evm: evms}, ew, client, logger)
	if err != nil {
		return err
	}
	out, err := svc.Flush(ctx, tok, invoiceID)
	for _, f := range out.Failed {
		fmt.Fprintf(stdout, "not flushed\t%s\t%s\t%v\n", f.InvoiceID, f.Address, f.Err)
	}
	for _, s := range out.Sweeps {
		fee := "-"
		if s.Fee != nil {
			fee = money.FormatAmount(s.Fee, 18) + " ETH"
		}
		fmt.Fprintf(stdout, "%s\t%s\t%d forwarders\tgas fee %s\n", s.TxHash, s.Status, len(s.Addresses), fee)
	}
	fmt.Fprintf(stdout, "%d deposit addresses held %s\n", out.Holding, ethereum.FormatAddress(tok))
	if err != nil {
		return err
	}
	if len(out.Failed) > 0 {
		return errors.New("some deposit addresses were not flushed (see above)")
	}
	return nil
}

// printUnswept writes the balances left in a store's forwarders, per wallet, under
// `wallet list`.
func printUnswept(ctx context.Context, st store.Store, storeID string, stdout io.Writer) error {
	var us []store.UnsweptBalance
	if err := st.View(ctx, func(tx store.Tx) (err error) { us, err = tx.UnsweptBalances(ctx, storeID); return }); err != nil {
		return err
	}
	for _, u := range us {
		asset := u.Asset
		if u.Contract != "" {
			asset += " (" + u.Contract + ")"
		}
		fmt.Fprintf(stdout, "%s\tunswept %s %s in %d deposit addresses (network %s)\n", u.WalletID,
			money.FormatAmount(u.Amount, u.Scale), asset, u.Forwarders, u.Network)
	}
	return nil
}

// opsSweepers describes the sweepers of chain e among bg for metrics and readiness.
func opsSweepers(e *ethWiring, bg []background) []ops.Sweeper {
	var out []ops.Sweeper
	for _, b := range bg {
		if sw, ok := b.(*sweeper.Service); ok {
			out = append(out, ops.Sweeper{Chain: e.chain, GasBalance: sw.GasBalance, WarnBelow: e.sweeperGasWarn})
		}
	}
	return out
}

// parseGasWarn reads the sweeper key balance (in the native asset) below which /readyz warns.
func parseGasWarn(w *ethWiring, gasWarn string) error {
	warn, err := money.ParseAmount(strings.TrimSpace(gasWarn), 18)
	if err != nil {
		return fmt.Errorf("%q: want an amount of the native asset such as 0.05: %v", gasWarn, err)
	}
	w.sweeperGasWarn = warn
	return nil
}
