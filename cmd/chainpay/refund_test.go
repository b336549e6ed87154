package main

import (
	"context"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/sqlite"
)

// TestRefundCommand: `chainpay refund create` refunds part of a paid invoice and prints the
// refund; `refund list` shows it; an over-refund exits 1 naming what is left and writes
// nothing; `refund cancel` cancels it.
func TestRefundCommand(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"CHAINPAY_DATA_DIR": dir, "CHAINPAY_DATABASE_URL": ""}
	if _, _, code := cli(t, env, "migrate"); code != 0 {
		t.Fatal("migrate failed")
	}
	ctx := context.Background()
	st, err := sqlite.Open(filepath.Join(dir, "chainpay.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now().UTC().Truncate(time.Microsecond)
	h := int64(3)
	if err := st.Tx(ctx, func(tx store.Tx) error {
		if err := tx.CreateMerchant(ctx, store.Merchant{ID: "sto_r", Name: "r", CreatedAt: now}); err != nil {
			return err
		}
		if err := tx.CreateWallet(ctx, store.Wallet{ID: "wal_r", MerchantID: "sto_r", Chain: "bitcoin", Network: "regtest", CreatedAt: now}); err != nil {
			return err
		}
		if err := tx.CreateInvoice(ctx, store.Invoice{ID: "inv_r", MerchantID: "sto_r", Status: store.StatusSettled, Price: big.NewInt(10000),
			Currency: "USD", TolerancePercent: "0", ToleranceFloor: new(big.Int), Confirmations: "{}", ExpiresAt: now.Add(time.Hour),
			MonitorUntil: now.Add(2 * time.Hour), CreatedAt: now, UpdatedAt: now, SettledAt: &now}); err != nil {
			return err
		}
		if err := tx.CreatePaymentOption(ctx, store.PaymentOption{ID: "opt_r", InvoiceID: "inv_r", Asset: "BTC", Chain: "bitcoin",
			Network: "regtest", Scale: 8, Address: "bcrt1qr", WalletID: "wal_r", AmountDue: big.NewInt(200000), Rate: "50000",
			RateSource: "fixed", RateAt: now, QuoteExpiresAt: now.Add(time.Hour), RawQuotes: "[]", Confirmations: 1, CreatedAt: now}); err != nil {
			return err
		}
		if _, err := tx.UpsertPayment(ctx, store.Payment{ID: "pay_r", InvoiceID: "inv_r", OptionID: "opt_r", Chain: "bitcoin", TxID: "tx_r",
			Address: "bcrt1qr", Asset: "BTC", Amount: big.NewInt(200000), Status: store.PaymentConfirmed, BlockHeight: &h, BlockHash: "b3",
			SeenAt: now, UpdatedAt: now}); err != nil {
			return err
		}
		return tx.SetCursor(ctx, store.Cursor{Chain: "bitcoin", Height: h, Hash: "b3", UpdatedAt: now, ChainTime: now})
	}); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := cli(t, env, "refund", "create", "--store", "sto_r", "--invoice", "inv_r", "--amount", "40.00", "--reason", "damaged")
	if code != 0 || !strings.Contains(out, `"amount": "40.00"`) || !strings.Contains(out, `"amount_asset": "0.00080000"`) {
		t.Fatalf("create: %d %s %s", code, out, stderr)
	}
	_, stderr, code = cli(t, env, "refund", "create", "--store", "sto_r", "--invoice", "inv_r", "--amount", "60.01")
	if code != 1 || !strings.Contains(stderr, "remaining refundable amount of 60.00 USD (0.00120000 BTC)") {
		t.Fatalf("over-refund: %d %s", code, stderr)
	}
	out, _, code = cli(t, env, "refund", "list", "--store", "sto_r")
	if code != 0 || strings.Count(out, "\n") != 0 || !strings.Contains(out, "pending") {
		t.Fatalf("list: %d %q", code, out)
	}
	id := strings.Fields(out)[0]
	if out, _, code = cli(t, env, "refund", "cancel", "--store", "sto_r", "--refund", id); code != 0 || !strings.Contains(out, `"status": "cancelled"`) {
		t.Fatalf("cancel: %d %s", code, out)
	}
	if _, stderr, code = cli(t, env, "refund", "psbt", "--store", "sto_r", "--refund", id, "--bitcoin-rpc", ""); code != 2 {
		t.Fatalf("psbt without a node: %d %s", code, stderr)
	}
}
