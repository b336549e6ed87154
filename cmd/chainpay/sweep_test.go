package main

import (
	"context"
	"crypto/ecdsa"
	"encoding/hex"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	geth "github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/chainpay/chainpay/chains/ethereum"
	"github.com/chainpay/chainpay/chains/ethereum/devchain"
	"github.com/chainpay/chainpay/contracts/bindings"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/sqlite"
)

// TestSweepCommandFlushesUnconfiguredToken: `chainpay sweep --token` moves a token chainpay
// is not configured for (DAI sent to a USDC invoice's address) to the treasury, and
// `wallet list` shows unswept balances.
func TestSweepCommandFlushesUnconfiguredToken(t *testing.T) {
	ctx := context.Background()
	ch, err := devchain.Start(ctx, devchain.Config{BlockEvery: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ch.Stop() })
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "sweeper.key")
	if err := os.WriteFile(keyFile, []byte(hex.EncodeToString(crypto.FromECDSA(ch.SweeperKey()))), 0o600); err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(dir, "chainpay.db")
	env := map[string]string{"CHAINPAY_DATA_DIR": dir, "CHAINPAY_DATABASE_URL": "sqlite://" + dbPath,
		"CHAINPAY_ETHEREUM_RPC": ch.RPCURL(), "CHAINPAY_ETHEREUM_CHAIN_ID": "1337",
		"CHAINPAY_ETHEREUM_FACTORY": ch.Factory().Address().Hex(), "CHAINPAY_SWEEPER_KEY_FILE": keyFile,
		"CHAINPAY_ETHEREUM_CONFIRMATIONS": "2"}
	if _, stderr, code := cli(t, env, "migrate"); code != 0 {
		t.Fatalf("migrate: %s", stderr)
	}
	storeID, _, _ := cli(t, env, "store", "create", "--name", "shop")
	tk, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	treasury := crypto.PubkeyToAddress(tk.PublicKey)
	walletID, stderr, code := cli(t, env, "wallet", "add", "--store", storeID, "--chain", "ethereum", "--network", "1337",
		"--treasury", treasury.Hex(), "--tokens", "USDC")
	if code != 0 {
		t.Fatalf("wallet add: %s", stderr)
	}
	// An invoice payable in USDC only, as the API would store it.
	dep, err := ch.Factory().DepositAddress("inv_cli", treasury)
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now().UTC()
	if err := st.Tx(ctx, func(tx store.Tx) error {
		if err := tx.CreateInvoice(ctx, store.Invoice{ID: "inv_cli", MerchantID: storeID, Status: store.StatusSettled,
			Price: big.NewInt(500), Currency: "USD", TolerancePercent: "0", ToleranceFloor: new(big.Int), Confirmations: "{}",
			ExpiresAt: now, MonitorUntil: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}); err != nil {
			return err
		}
		return tx.CreatePaymentOption(ctx, store.PaymentOption{ID: "opt_cli", InvoiceID: "inv_cli", Asset: "USDC",
			Chain: "ethereum", Network: "1337", Contract: ethereum.FormatAddress(ch.USDC()), Scale: 6,
			Address: ethereum.FormatAddress(dep), WalletID: walletID, AmountDue: big.NewInt(5_000_000), Rate: "1",
			RateSource: "fixed", RateAt: now, QuoteExpiresAt: now, RawQuotes: "[]", Confirmations: 2, CreatedAt: now})
	}); err != nil {
		t.Fatal(err)
	}
	// Someone sends DAI there.
	payer := ch.PayerKey()
	tabi := bindings.NewTestToken()
	dai := devSend(t, ch, payer, nil, append(common.FromHex(bindings.TestTokenMetaData.Bin), tabi.PackConstructor("Dai", "DAI", 18, false)...)).ContractAddress
	devSend(t, ch, payer, &dai, tabi.PackMint(dep, new(big.Int).Mul(big.NewInt(3), big.NewInt(1e18))))

	out, stderr, code := cli(t, env, "sweep", "--network", "1337", "--token", dai.Hex(), "--invoice", "inv_cli")
	if code != 0 || !strings.Contains(out, "confirmed") || !strings.Contains(out, "1 deposit addresses held") {
		t.Fatalf("sweep: exit %d\n%s\n%s", code, out, stderr)
	}
	if got := tokenBalanceOf(t, ch, dai, treasury); got.Cmp(new(big.Int).Mul(big.NewInt(3), big.NewInt(1e18))) != 0 {
		t.Fatalf("treasury DAI %s, want 3e18", got)
	}
	if got := tokenBalanceOf(t, ch, dai, dep); got.Sign() != 0 {
		t.Fatalf("deposit address still holds %s DAI", got)
	}
	if out, _, code := cli(t, env, "sweep", "--network", "1337", "--token", dai.Hex()); code != 0 || !strings.Contains(out, "0 deposit addresses held") {
		t.Fatalf("second sweep: %d %q", code, out)
	}
	if _, stderr, code := cli(t, env, "sweep", "--network", "1", "--token", dai.Hex()); code != 2 || !strings.Contains(stderr, "1337") {
		t.Fatalf("wrong network: %d %q", code, stderr)
	}
	if _, stderr, code := cli(t, env, "sweep", "--network", "1337", "--token", "0x12"); code != 2 || !strings.Contains(stderr, "--token") {
		t.Fatalf("bad token: %d %q", code, stderr)
	}
	// What the sweeper last read shows under wallet list.
	f := store.Forwarder{Chain: "ethereum", Address: ethereum.FormatAddress(dep), InvoiceID: "inv_cli", WalletID: walletID,
		MerchantID: storeID, Treasury: ethereum.FormatAddress(treasury), Network: "1337"}
	if err := st.Tx(ctx, func(tx store.Tx) error {
		return tx.RecordForwarder(ctx, f, []store.ForwarderBalance{{Contract: ethereum.FormatAddress(ch.USDC()), Asset: "USDC", Scale: 6, Amount: big.NewInt(1_500_000)}}, now)
	}); err != nil {
		t.Fatal(err)
	}
	if out, _, _ := cli(t, env, "wallet", "list", "--store", storeID); !strings.Contains(out, "unswept 1.500000 USDC") {
		t.Fatalf("wallet list: %q", out)
	}
}

// devSend signs and sends a transaction from key on the dev chain and waits for it to be mined.
func devSend(t *testing.T, ch *devchain.Chain, key *ecdsa.PrivateKey, to *common.Address, data []byte) *types.Receipt {
	t.Helper()
	ctx := context.Background()
	c := ch.Client()
	from := crypto.PubkeyToAddress(key.PublicKey)
	nonce, err := c.PendingNonceAt(ctx, from)
	if err != nil {
		t.Fatal(err)
	}
	gas, err := c.EstimateGas(ctx, geth.CallMsg{From: from, To: to, Data: data})
	if err != nil {
		t.Fatal(err)
	}
	tx, err := types.SignNewTx(key, types.LatestSignerForChainID(big.NewInt(1337)), &types.DynamicFeeTx{ChainID: big.NewInt(1337),
		Nonce: nonce, GasTipCap: big.NewInt(1e9), GasFeeCap: big.NewInt(100e9), Gas: gas, To: to, Data: data})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SendTransaction(ctx, tx); err != nil {
		t.Fatal(err)
	}
	for range 500 {
		if r, err := c.TransactionReceipt(ctx, tx.Hash()); err == nil {
			if r.Status != types.ReceiptStatusSuccessful {
				t.Fatalf("transaction %s reverted", tx.Hash().Hex())
			}
			return r
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("transaction %s not mined", tx.Hash().Hex())
	return nil
}

func tokenBalanceOf(t *testing.T, ch *devchain.Chain, token, owner common.Address) *big.Int {
	t.Helper()
	out, err := ch.Client().CallContract(context.Background(), geth.CallMsg{To: &token, Data: ethereum.BalanceOfCalldata(owner)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ethereum.ParseBalanceOf(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
