package sweeper

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/chainpay/chainpay/store"
)

// flushPage is how many forwarders Flush reads per store query.
const flushPage = 500

// FlushResult is what Flush did.
type FlushResult struct {
	// Holding counts the forwarders that held the token.
	Holding int
	// Sweeps are the sweeps Flush sent, as finished (confirmed or reverted) once they
	// reached the confirmations; a sweep still open when the wait ended is listed as sent.
	Sweeps []store.EVMSweep
	Failed []Failure
}

// Flush sweeps every forwarder of the chain (or only invoiceID's, when not "") that holds
// token, which need not be configured (someone sent DAI to a USDC invoice's address), and
// waits until its sweeps reach the confirmations or ReceiptTimeout passes. The forwarder
// itself allows flushing any ERC-20 to its destination, so the sweeper key still moves
// nothing anywhere else. It reads every forwarder ever handed out on the chain: an
// operator's one-off command, not a loop.
func (s *Service) Flush(ctx context.Context, token common.Address, invoiceID string) (FlushResult, error) {
	var out FlushResult
	if token == (common.Address{}) {
		return out, fmt.Errorf("flush: token address is required")
	}
	var ready []reading
	after := ""
	for {
		var page []store.Forwarder
		if err := s.cfg.Store.View(ctx, func(tx store.Tx) (err error) {
			page, err = tx.Forwarders(ctx, s.cfg.Chain, invoiceID, after, flushPage)
			if err != nil || len(page) > 0 || invoiceID == "" || after != "" {
				return err
			}
			page, err = s.siblingForwarders(ctx, tx, invoiceID)
			return err
		}); err != nil {
			return out, fmt.Errorf("flush: forwarders: %w", err)
		}
		for _, f := range page {
			r, err := s.read(ctx, f, false)
			if err != nil {
				return out, err
			}
			cctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
			b, err := s.tokenBalance(cctx, token, r.addr)
			cancel()
			if err != nil {
				return out, fmt.Errorf("flush: %w (is %s an ERC-20 token on this chain?)", err, token.Hex())
			}
			if b.Sign() > 0 && r.foreign {
				out.Failed = append(out.Failed, Failure{InvoiceID: f.InvoiceID, Address: f.Address, Err: ErrNotDerived})
			} else if b.Sign() > 0 {
				r.tokens[token] = b
				ready = append(ready, r)
			}
		}
		if len(page) < flushPage {
			break
		}
		after = page[len(page)-1].Address
	}
	out.Holding = len(ready)
	if len(ready) == 0 {
		return out, nil
	}
	s.running.Lock()
	var res Result
	err := s.sendAll(ctx, ready, []common.Address{token}, &res)
	s.running.Unlock()
	out.Failed = append(out.Failed, res.Failed...)
	if err != nil {
		return out, err
	}
	return out, s.await(ctx, res.Sent, &out)
}

// await settles open sweeps until every one of sent is finished or ReceiptTimeout passes.
func (s *Service) await(ctx context.Context, sent []store.EVMSweep, out *FlushResult) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ReceiptTimeout)
	defer cancel()
	want := map[string]store.EVMSweep{}
	for _, sw := range sent {
		want[sw.TxHash] = sw
	}
	tick := time.NewTicker(s.cfg.PollInterval)
	defer tick.Stop()
	for len(want) > 0 {
		s.running.Lock()
		var res Result
		_, err := s.settle(ctx, &res)
		s.running.Unlock()
		if err != nil && ctx.Err() == nil {
			return err
		}
		for _, f := range res.Finished {
			if _, ok := want[f.TxHash]; ok {
				out.Sweeps = append(out.Sweeps, f)
				delete(want, f.TxHash)
			}
		}
		// Another process (serve) may have finished one first.
		for h := range want {
			var sw store.EVMSweep
			if err := s.cfg.Store.View(ctx, func(tx store.Tx) (err error) { sw, err = tx.GetEVMSweep(ctx, h); return }); err == nil && sw.Status != store.SweepSent {
				out.Sweeps = append(out.Sweeps, sw)
				delete(want, h)
			}
		}
		if len(want) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			for _, sw := range want {
				out.Sweeps = append(out.Sweeps, sw)
			}
			return fmt.Errorf("flush: %d sweeps not confirmed within %s (they stay recorded and are confirmed by the next sweeper round): %w",
				len(want), s.cfg.ReceiptTimeout, ctx.Err())
		case <-tick.C:
		}
	}
	return nil
}

// siblingForwarders are the forwarders of invoiceID handed out on the sibling chains, as
// forwarders of this chain: the invoice offered no option here, but its address here is
// the same (one factory address on every chain), so what was sent here is its to flush.
// read still checks that the address derives from this chain's factory and the treasury.
func (s *Service) siblingForwarders(ctx context.Context, tx store.Tx, invoiceID string) ([]store.Forwarder, error) {
	seen := map[string]bool{}
	var out []store.Forwarder
	for _, chain := range s.cfg.Siblings {
		fs, err := tx.Forwarders(ctx, chain, invoiceID, "", flushPage)
		if err != nil {
			return nil, err
		}
		for _, f := range fs {
			if seen[f.Address] {
				continue
			}
			seen[f.Address] = true
			f.Chain, f.Network = s.cfg.Chain, strconv.FormatUint(s.cfg.ChainID, 10)
			out = append(out, f)
		}
	}
	return out, nil
}
