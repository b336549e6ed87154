package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/btcsuite/btcd/wire"

	"github.com/chainpay/chainpay/chains/bitcoin"
)

// findBlock returns the raw mainnet block: -block, or ../shared/testdata/*.raw relative to
// the module root or the working directory.
func findBlock(o *options) (string, error) {
	if o.block != "" {
		return o.block, nil
	}
	for _, pattern := range []string{"chains/bitcoin/testdata/mainnet_block_*.raw", "../../chains/bitcoin/testdata/mainnet_block_*.raw",
		"../shared/testdata/mainnet_block_*.raw", "../../shared/testdata/mainnet_block_*.raw"} {
		if m, _ := filepath.Glob(pattern); len(m) > 0 {
			return m[0], nil
		}
	}
	return "", fmt.Errorf("no mainnet block: pass -block FILE (expected ../shared/testdata/mainnet_block_*.raw from the repository root)")
}

// benchMatch times decoding the real block alone and decoding plus MatchBlock against
// o.watched random P2WPKH/P2TR scripts and 20 scripts that occur in the block, interleaved
// so both see the same machine state, and reports the median of each.
func benchMatch(ctx context.Context, o *options, _ string, r *report, _ io.Writer) error {
	path, err := findBlock(o)
	if err != nil {
		return err
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var blk wire.MsgBlock
	if err := blk.Deserialize(bytes.NewReader(raw)); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	var real [][]byte
	outputs := 0
	for _, tx := range blk.Transactions {
		for _, out := range tx.TxOut {
			outputs++
			if len(real) < 20 && len(out.PkScript) == 22 && outputs%50 == 0 {
				real = append(real, bytes.Clone(out.PkScript))
			}
		}
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	set := bitcoin.NewScriptSet(o.watched)
	rng := rand.New(rand.NewPCG(42, 42))
	var buf [34]byte
	for i := range o.watched {
		n := 22
		buf[0], buf[1] = 0x00, 0x14
		if i%2 == 1 {
			n = 34
			buf[0], buf[1] = 0x51, 0x20
		}
		for j := 2; j < n; j++ {
			buf[j] = byte(rng.Uint32())
		}
		set.Add(buf[:n], uint64(i))
	}
	for i, s := range real {
		set.Add(s, uint64(o.watched+i))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perScript := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(set.Len())

	rounds := 300
	if o.quick {
		rounds = 100
	}
	var dec, both, addrs latencies
	var matchOnly latencies
	params, err := bitcoin.Params(bitcoin.Mainnet)
	if err != nil {
		return err
	}
	for i := 0; i < rounds && ctx.Err() == nil; i++ {
		t0 := time.Now()
		var a wire.MsgBlock
		if err := a.Deserialize(bytes.NewReader(raw)); err != nil {
			return err
		}
		dec = append(dec, time.Since(t0))

		t1 := time.Now()
		var b wire.MsgBlock
		if err := b.Deserialize(bytes.NewReader(raw)); err != nil {
			return err
		}
		t2 := time.Now()
		m := bitcoin.MatchBlock(&b, set)
		both = append(both, time.Since(t1))
		matchOnly = append(matchOnly, time.Since(t2))
		if len(m) < len(real) {
			return fmt.Errorf("matched %d outputs, want at least the %d real scripts", len(m), len(real))
		}

		// What the watcher's BitcoinSource does per block since issue 22 (no watch set):
		// the address of every output, to be matched in the store.
		t3 := time.Now()
		var c wire.MsgBlock
		if err := c.Deserialize(bytes.NewReader(raw)); err != nil {
			return err
		}
		n := 0
		for _, tx := range c.Transactions {
			tx.TxHash()
			for _, out := range tx.TxOut {
				if _, ok := bitcoin.OutputAddress(out.PkScript, params); ok {
					n++
				}
			}
		}
		addrs = append(addrs, time.Since(t3))
		if n < outputs/2 {
			return fmt.Errorf("only %d of %d outputs have an address", n, outputs)
		}
	}
	runtime.KeepAlive(set)
	r.section(fmt.Sprintf("Block matching — mainnet block (%d txs, %d outputs, %.2f MB), %d watched scripts, %d rounds",
		len(blk.Transactions), outputs, float64(len(raw))/1e6, set.Len(), rounds))
	r.ratio("decode+match time p50 (limit: decode)", ms(both.quantile(0.5)), ms(dec.quantile(0.5)), "ms", "≤ 1.25")
	r.ratio("decode+match time p99 (limit: decode)", ms(both.quantile(0.99)), ms(dec.quantile(0.99)), "ms", "≤ 1.25")
	r.line("match alone p50 / p99", fmt.Sprintf("%.3f ms / %.3f ms", ms(matchOnly.quantile(0.5)), ms(matchOnly.quantile(0.99))))
	r.line("heap per watched script", fmt.Sprintf("%.1f B", perScript))
	r.ratio("decode+every output's address p50 (limit: decode)", ms(addrs.quantile(0.5)), ms(dec.quantile(0.5)), "ms", "(the BitcoinSource's work per block; no watch set)")
	return nil
}
