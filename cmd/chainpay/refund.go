package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/chainpay/chainpay/chains/bitcoin"
	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/refunds"
	"github.com/chainpay/chainpay/store"
)

// noQuotes refuses rate policy current on the command line (no rate sources run here).
type noQuotes struct{}

func (noQuotes) Quote(context.Context, string, string) (invoices.Quote, error) {
	return invoices.Quote{}, fmt.Errorf("the command line has no rate sources: use rate policy original or explicit (or the API): %w",
		invoices.ErrRatesUnavailable)
}

// runRefund is `chainpay refund create|list|cancel|psbt|submit`: refunds for merchants
// without their own integration, on the same services as the API (docs/refunds.md).
func runRefund(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	verb, args, err := sub(args, "create", "list", "cancel", "psbt", "submit")
	if err != nil {
		return err
	}
	var (
		storeID, invoiceID, refundID, psbtFile, btcRPC, btcNet string
		req                                                    refunds.CreateRequest
	)
	return withStore(ctx, "refund "+verb, args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&storeID, "store", "", "store id (sto_...)")
		fs.StringVar(&invoiceID, "invoice", "", "invoice id (create; list filters by it)")
		fs.StringVar(&refundID, "refund", "", "refund id (cancel, psbt, submit)")
		fs.StringVar(&req.Amount, "amount", "", "amount (create; default everything still refundable)")
		fs.StringVar(&req.Currency, "currency", "", "unit of --amount: the invoice currency (default) or the asset")
		fs.StringVar(&req.Asset, "asset", "", "asset paid back (default the one the invoice received)")
		fs.StringVar(&req.RatePolicy, "rate-policy", "", "original (default) or explicit")
		fs.StringVar(&req.Rate, "rate", "", "explicit rate: invoice currency per whole asset unit")
		fs.BoolVar(&req.FeeFromAmount, "fee-from-amount", false, "take the network fee out of the amount")
		fs.StringVar(&req.Reason, "reason", "", "reason, for the books")
		fs.StringVar(&req.Destination, "destination", "", "customer's address or BIP21/EIP-681 URI (default: the customer claims it)")
		fs.StringVar(&psbtFile, "psbt", "-", "submit: file holding the signed base64 PSBT (- for stdin)")
		fs.StringVar(&btcRPC, "bitcoin-rpc", os.Getenv("CHAINPAY_BITCOIN_RPC"), "psbt, submit: bitcoind/btcd JSON-RPC URL")
		fs.StringVar(&btcNet, "bitcoin-network", envOr("CHAINPAY_BITCOIN_NETWORK", "mainnet"), "psbt, submit: Bitcoin network")
	}, func(_ *flag.FlagSet, st store.Store) error {
		if storeID == "" {
			return &usageError{"--store is required"}
		}
		inv, err := invoices.New(st, invoices.Config{Chains: map[string]invoices.Chain{}, Quoter: noQuotes{}})
		if err != nil {
			return err
		}
		cfg := refunds.Config{Invoices: inv}
		if verb == "psbt" || verb == "submit" {
			if btcRPC == "" {
				return &usageError{"--bitcoin-rpc (or CHAINPAY_BITCOIN_RPC) is required"}
			}
			node, err := bitcoin.NewNode(bitcoin.NodeConfig{URLs: strings.Split(btcRPC, ","), Network: bitcoin.Network(btcNet), Timeout: 15 * time.Second})
			if err != nil {
				return &settingError{"CHAINPAY_BITCOIN_RPC", err.Error()}
			}
			cfg.Bitcoin = &refunds.BitcoinConfig{Node: node}
		}
		svc, err := refunds.New(st, cfg)
		if err != nil {
			return err
		}
		out := json.NewEncoder(stdout)
		out.SetIndent("", "  ")
		switch verb {
		case "create":
			if invoiceID == "" {
				return &usageError{"--invoice is required"}
			}
			dr, err := svc.Prepare(ctx, storeID, invoiceID, req)
			if err != nil {
				return err
			}
			var r store.Refund
			if err := st.Tx(ctx, func(tx store.Tx) (err error) { r, err = svc.CreateTx(ctx, tx, dr); return }); err != nil {
				return err
			}
			return out.Encode(svc.View(r))
		case "list":
			rs, err := svc.List(ctx, store.RefundFilter{MerchantID: storeID, InvoiceID: invoiceID, Limit: 1000})
			if err != nil {
				return err
			}
			for _, r := range rs {
				fmt.Fprintf(stdout, "%s\t%s\t%s\t%s %s\t%s %s\t%s\n", r.ID, r.InvoiceID, r.Status, svc.View(r).Amount, r.Currency,
					svc.View(r).AmountAsset, r.Asset, r.Destination)
			}
			return nil
		}
		if refundID == "" {
			return &usageError{"--refund is required"}
		}
		switch verb {
		case "cancel":
			var r store.Refund
			if err := st.Tx(ctx, func(tx store.Tx) (err error) { r, err = svc.CancelTx(ctx, tx, storeID, refundID); return }); err != nil {
				return err
			}
			return out.Encode(svc.View(r))
		case "psbt":
			r, err := svc.PreparePSBT(ctx, storeID, refundID)
			if err != nil {
				return err
			}
			fmt.Fprintln(stdout, r.Prepared)
			fmt.Fprintf(stderr, "network fee: %s sat; sign it in your wallet, then: chainpay refund submit --store %s --refund %s --psbt FILE\n",
				r.NetworkFee, storeID, refundID)
			return nil
		default: // submit
			var b []byte
			if psbtFile == "-" {
				b, err = io.ReadAll(io.LimitReader(os.Stdin, 1<<20))
			} else {
				b, err = os.ReadFile(psbtFile)
			}
			if err != nil {
				return err
			}
			r, err := svc.SubmitPSBT(ctx, storeID, refundID, string(b))
			if err != nil {
				return err
			}
			return out.Encode(svc.View(r))
		}
	})
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
