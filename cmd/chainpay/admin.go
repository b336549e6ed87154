package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/chainpay/chainpay/apikey"
	"github.com/ethereum/go-ethereum/common"

	"github.com/chainpay/chainpay/chains/bitcoin"
	"github.com/chainpay/chainpay/chains/ethereum"
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
	if _, rest, err := sub(args, "create"); err != nil {
		return err
	} else {
		args = rest
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
			var ws []store.Wallet
			if err := st.View(ctx, func(tx store.Tx) (err error) { ws, err = tx.Wallets(ctx, storeID); return }); err != nil {
				return err
			}
			for _, w := range ws {
				highest := "none"
				if w.NextIndex > 0 {
					highest = strconv.FormatUint(uint64(w.NextIndex-1), 10)
				}
				fmt.Fprintf(stdout, "%s\t%s\t%s\thighest index handed out: %s\t%s\n", w.ID, w.Chain, w.Network, highest, w.Descriptor+w.Treasury)
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
			return &usageError{fmt.Sprintf("store %s already has a %s wallet", storeID, chain)}
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
