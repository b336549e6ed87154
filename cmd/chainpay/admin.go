package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chainpay/chainpay/apikey"
	"github.com/ethereum/go-ethereum/common"

	"github.com/chainpay/chainpay/chains/bitcoin"
	"github.com/chainpay/chainpay/chains/ethereum"
	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/money"
	"github.com/chainpay/chainpay/store"
)

// withStore parses the common settings plus extra flags, opens the database and calls fn.
func withStore(ctx context.Context, name string, args []string, stderr io.Writer, extra func(*flag.FlagSet),
	fn func(fs *flag.FlagSet, st store.Store) error) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	load := commonSettings(fs)
	if extra != nil {
		extra(fs)
	}
	if err := applyConfig(fs, args); err != nil {
		return err
	}
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	c, err := load()
	if err != nil {
		return err
	}
	st, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	defer st.Close()
	if applied, latest, err := st.MigrationStatus(ctx); err != nil || applied != latest {
		return fmt.Errorf("database schema is at version %d, this build needs %d: run `chainpay migrate` first", applied, latest)
	}
	return fn(fs, st)
}

func sub(args []string, want ...string) (string, []string, error) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return "", nil, &usageError{"missing subcommand: " + strings.Join(want, " or ")}
	}
	for _, w := range want {
		if args[0] == w {
			return w, args[1:], nil
		}
	}
	return "", nil, &usageError{fmt.Sprintf("unknown subcommand %q (want %s)", args[0], strings.Join(want, " or "))}
}

func runStore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	verb, rest, err := sub(args, "create", "set")
	if err != nil {
		return err
	}
	args = rest
	if verb == "set" {
		return runStoreSet(ctx, args, stdout, stderr)
	}
	var name string
	return withStore(ctx, "store create", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&name, "name", "", "the store's display name (shown on the checkout page)")
	}, func(_ *flag.FlagSet, st store.Store) error {
		name = strings.TrimSpace(name)
		if name == "" || len(name) > 200 {
			return &usageError{"--name is required (at most 200 characters)"}
		}
		now := time.Now().UTC()
		m := store.Merchant{ID: store.NewID("sto", now), Name: name, CreatedAt: now}
		if err := st.Tx(ctx, func(tx store.Tx) error { return tx.CreateMerchant(ctx, m) }); err != nil {
			return err
		}
		fmt.Fprintln(stdout, m.ID)
		return nil
	})
}

// runStoreSet changes a store's settings: --max-amount USD=10000.00,EUR=9000 caps invoice
// prices per currency (an empty amount, USD=, removes the cap).
func runStoreSet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var storeID, maxAmount string
	return withStore(ctx, "store set", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&storeID, "store", "", "store id (sto_...)")
		fs.StringVar(&maxAmount, "max-amount", "", "per-currency invoice maximum, e.g. USD=10000.00,EUR=9000 (CUR= removes one)")
	}, func(_ *flag.FlagSet, st store.Store) error {
		if storeID == "" || maxAmount == "" {
			return &usageError{"usage: chainpay store set --store ID --max-amount CUR=AMOUNT[,CUR=AMOUNT]"}
		}
		var out string
		err := st.Tx(ctx, func(tx store.Tx) error {
			m, err := tx.GetMerchant(ctx, storeID)
			if err != nil {
				return err
			}
			var raw map[string]any // keep settings this build does not know
			if err := json.Unmarshal([]byte(m.Settings), &raw); err != nil || raw == nil {
				raw = map[string]any{}
			}
			set, err := invoices.ParseStoreSettings(m.Settings)
			if err != nil {
				return err
			}
			if set.MaxAmount == nil {
				set.MaxAmount = map[string]string{}
			}
			for _, kv := range splitList(maxAmount) {
				cur, amt, ok := strings.Cut(kv, "=")
				a, known := money.Currency(cur)
				if !ok || !known {
					return &usageError{fmt.Sprintf("--max-amount %q: want CUR=AMOUNT with an ISO 4217 currency", kv)}
				}
				if amt == "" {
					delete(set.MaxAmount, cur)
					continue
				}
				v, err := money.ParseAmount(amt, a.Scale)
				if err != nil || v.Sign() <= 0 {
					return &usageError{fmt.Sprintf("--max-amount %q: want a positive amount in %s", kv, cur)}
				}
				set.MaxAmount[cur] = money.FormatAmount(v, a.Scale)
			}
			raw["max_amount"] = set.MaxAmount
			b, err := json.Marshal(raw)
			if err != nil {
				return err
			}
			out = string(b)
			return tx.SetMerchantSettings(ctx, storeID, out)
		})
		if errors.Is(err, store.ErrNotFound) {
			return &usageError{fmt.Sprintf("no store %q", storeID)}
		}
		if err == nil {
			fmt.Fprintln(stdout, out)
		}
		return err
	})
}

func runAPIKey(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	verb, rest, err := sub(args, "create", "revoke")
	if err != nil {
		return err
	}
	if verb == "revoke" {
		return withStore(ctx, "apikey revoke", rest, stderr, nil, func(fs *flag.FlagSet, st store.Store) error {
			if fs.NArg() != 1 {
				return &usageError{"usage: chainpay apikey revoke KEY_ID"}
			}
			err := st.Tx(ctx, func(tx store.Tx) error { return tx.RevokeAPIKey(ctx, fs.Arg(0), time.Now().UTC()) })
			if errors.Is(err, store.ErrNotFound) {
				return &usageError{fmt.Sprintf("no API key %q", fs.Arg(0))}
			}
			if err == nil {
				fmt.Fprintln(stderr, "revoked", fs.Arg(0))
			}
			return err
		})
	}
	var storeID, perms string
	return withStore(ctx, "apikey create", rest, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&storeID, "store", "", "store id (sto_...)")
		fs.StringVar(&perms, "perm", "", "comma-separated permissions (default all: "+strings.Join(apikey.All(), ",")+")")
	}, func(_ *flag.FlagSet, st store.Store) error {
		ps, err := apikey.ParsePermissions(perms)
		if err != nil {
			return &usageError{"--perm: " + err.Error()}
		}
		if storeID == "" {
			return &usageError{"--store is required"}
		}
		plain, k := apikey.New(storeID, ps, time.Now())
		err = st.Tx(ctx, func(tx store.Tx) error {
			if _, err := tx.GetMerchant(ctx, storeID); err != nil {
				return err
			}
			return tx.CreateAPIKey(ctx, k)
		})
		if errors.Is(err, store.ErrNotFound) {
			return &usageError{fmt.Sprintf("no store %q", storeID)}
		}
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, plain)
		fmt.Fprintf(stderr, "key id %s (for `chainpay apikey revoke`); permissions %s. The key is shown only now.\n", k.ID, strings.Join(ps, ","))
		return nil
	})
}

func runWallet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	verb, rest, err := sub(args, "add", "list")
	if err != nil {
		return err
	}
	var storeID, chain, key, network, treasury, tokens string
	return withStore(ctx, "wallet "+verb, rest, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&storeID, "store", "", "store id (sto_...)")
		if verb == "add" {
			fs.StringVar(&chain, "chain", "", "bitcoin")
			fs.StringVar(&key, "key", "", "extended PUBLIC key (xpub/ypub/zpub/tpub/upub/vpub) or output descriptor")
			fs.StringVar(&network, "network", "mainnet", "bitcoin: mainnet, testnet, signet or regtest; EVM: the chain id")
			fs.StringVar(&treasury, "treasury", "", "EVM: the treasury address forwarders pay into")
			fs.StringVar(&tokens, "tokens", "", "EVM: comma-separated token codes to accept, e.g. USDC,USDT (configured with CHAINPAY_ETHEREUM_TOKENS)")
		}
	}, func(_ *flag.FlagSet, st store.Store) error {
		if storeID == "" {
			return &usageError{"--store is required"}
		}
		if verb == "list" {
			var (
				ws   []store.Wallet
				paid = map[string]*uint32{}
			)
			if err := st.View(ctx, func(tx store.Tx) (err error) {
				if ws, err = tx.Wallets(ctx, storeID); err != nil {
					return err
				}
				for _, w := range ws {
					if w.Descriptor != "" {
						if paid[w.ID], err = tx.HighestPaidIndex(ctx, w.ID); err != nil {
							return err
						}
					}
				}
				return nil
			}); err != nil {
				return err
			}
			for _, w := range ws {
				highest := "none"
				if w.NextIndex > 0 {
					highest = strconv.FormatUint(uint64(w.NextIndex-1), 10)
				}
				gap := "-"
				if w.Descriptor != "" {
					gap = strconv.FormatUint(uint64(invoices.Gap(w.NextIndex, paid[w.ID])), 10)
				}
				fmt.Fprintf(stdout, "%s\t%s\t%s\thighest index handed out: %s\tgap: %s\t%s\n", w.ID, w.Chain, w.Network, highest, gap, w.Descriptor+w.Treasury)
				if w.Descriptor != "" {
					if adv := invoices.GapAdvice(invoices.Gap(w.NextIndex, paid[w.ID])); adv != "" {
						fmt.Fprintf(stderr, "warning: wallet %s: %s\n", w.ID, adv)
					}
				}
			}
			return printUnswept(ctx, st, storeID, stdout)
		}
		now := time.Now().UTC()
		w := store.Wallet{ID: store.NewID("wal", now), MerchantID: storeID, Chain: chain, Network: network, CreatedAt: now}
		var pw *bitcoin.Wallet
		switch chain {
		case "bitcoin":
			var err error
			if pw, err = bitcoin.ParseWallet(key, bitcoin.Network(network)); err != nil {
				return &usageError{"--key: " + err.Error()}
			}
			w.Descriptor = pw.Descriptor()
		case "ethereum":
			a, err := ethereum.ParseAddress(treasury)
			if err != nil || a == (common.Address{}) {
				return &usageError{fmt.Sprintf("--treasury %q: want the 0x address (EIP-55 checksummed if mixed case) of your treasury", treasury)}
			}
			if key != "" {
				return &usageError{"--key: EVM wallets take --treasury, not a key"}
			}
			if network == "mainnet" {
				network = os.Getenv("CHAINPAY_ETHEREUM_CHAIN_ID")
				if network == "" {
					network = "1"
				}
			}
			for _, t := range splitList(tokens) {
				if strings.ToUpper(t) != t {
					return &usageError{fmt.Sprintf("--tokens: %q: token codes are upper case", t)}
				}
				w.Tokens = append(w.Tokens, t)
			}
			w.Network, w.Treasury = network, ethereum.FormatAddress(a)
		default:
			return &usageError{fmt.Sprintf("--chain %q: supported chains: bitcoin, ethereum", chain)}
		}
		err = st.Tx(ctx, func(tx store.Tx) error {
			if _, err := tx.GetMerchant(ctx, storeID); err != nil {
				return err
			}
			return tx.CreateWallet(ctx, w)
		})
		switch {
		case errors.Is(err, store.ErrNotFound):
			return &usageError{fmt.Sprintf("no store %q", storeID)}
		case errors.Is(err, store.ErrConflict):
			var own []store.Wallet
			if err := st.View(ctx, func(tx store.Tx) (err error) { own, err = tx.Wallets(ctx, storeID); return }); err != nil {
				return err
			}
			if slices.ContainsFunc(own, func(x store.Wallet) bool { return x.Chain == chain }) {
				return &usageError{fmt.Sprintf("store %s already has a %s wallet", storeID, chain)}
			}
			return &usageError{"--key: already used by another wallet (possibly of another store); one key serves one wallet: derive a new account"}
		case err != nil:
			return err
		}
		fmt.Fprintln(stdout, w.ID)
		if pw != nil {
			first, _ := pw.Address(0)
			fmt.Fprintf(stderr, "bitcoin %s wallet %s; first receive address %s\n", network, pw.Descriptor(), first)
		} else {
			fmt.Fprintf(stderr, "%s wallet (chain id %s): treasury %s, tokens %v\n", chain, w.Network, w.Treasury, w.Tokens)
		}
		return nil
	})
}

func runBitcoin(_ context.Context, args []string, stdout, stderr io.Writer) error {
	if _, rest, err := sub(args, "derive"); err != nil {
		return err
	} else {
		args = rest
	}
	fs := flag.NewFlagSet("bitcoin derive", flag.ContinueOnError)
	key := fs.String("key", "", "extended public key or output descriptor")
	index := fs.String("index", "0", "receive index (0 to 2^31-1)")
	network := fs.String("network", "mainnet", "mainnet, testnet, signet or regtest")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	n, err := strconv.ParseUint(*index, 10, 31)
	if err != nil {
		return &usageError{fmt.Sprintf("--index %q: want an integer from 0 to 2147483647", *index)}
	}
	w, err := bitcoin.ParseWallet(*key, bitcoin.Network(*network))
	if err != nil {
		return &usageError{"--key: " + err.Error()}
	}
	addr, err := w.Address(uint32(n))
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, addr.EncodeAddress())
	return nil
}
