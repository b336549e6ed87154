package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/store"
)

type walletRequest struct {
	Chain    string   `json:"chain"`
	Key      string   `json:"key"`
	Treasury string   `json:"treasury"`
	Tokens   []string `json:"tokens"`
}

type walletJSON struct {
	ID           string    `json:"id"`
	Object       string    `json:"object"`
	Chain        string    `json:"chain"`
	Network      string    `json:"network"`
	Descriptor   *string   `json:"descriptor"`
	Treasury     *string   `json:"treasury"`
	Tokens       []string  `json:"tokens"`
	HighestIndex *uint32   `json:"highest_index"` // highest derivation index handed out (for the wallet's gap limit)
	HighestPaid  *uint32   `json:"highest_paid_index"`
	Gap          *uint32   `json:"gap"` // indexes handed out after the highest paid one
	GapWarning   *string   `json:"gap_warning"`
	CreatedAt    time.Time `json:"created_at"`
	// Unswept: balances left in the wallet's EVM deposit addresses (api/wallets_unswept.go).
	Unswept []unsweptJSON `json:"unswept"`
}

// walletView is the wallet as the API shows it; highestPaid is its highest paid index.
func walletView(w store.Wallet, highestPaid *uint32) walletJSON {
	v := walletJSON{ID: w.ID, Object: "wallet", Chain: w.Chain, Network: w.Network, Descriptor: strPtr(w.Descriptor),
		Treasury: strPtr(w.Treasury), Tokens: w.Tokens, CreatedAt: w.CreatedAt, Unswept: []unsweptJSON{}}
	if v.Tokens == nil {
		v.Tokens = []string{}
	}
	if w.NextIndex > 0 {
		h := w.NextIndex - 1
		v.HighestIndex = &h
	}
	if w.Descriptor != "" { // wallets that derive addresses have a gap
		gap := invoices.Gap(w.NextIndex, highestPaid)
		v.HighestPaid, v.Gap, v.GapWarning = highestPaid, &gap, strPtr(invoices.GapAdvice(gap))
	}
	return v
}

func (s *Server) createWallet(w http.ResponseWriter, r *http.Request) {
	var req walletRequest
	if _, p := decodeBody(r, s.cfg.MaxBody, &req); p != nil {
		writeProblem(w, *p)
		return
	}
	wal, err := s.cfg.Invoices.AddWallet(r.Context(), keyFrom(r.Context()).MerchantID,
		invoices.WalletInput{Chain: req.Chain, Key: req.Key, Treasury: req.Treasury, Tokens: req.Tokens})
	if errors.Is(err, invoices.ErrWalletExists) || errors.Is(err, invoices.ErrKeyInUse) {
		writeProblem(w, Problem{Type: typeConflict, Status: http.StatusConflict, Detail: err.Error()})
		return
	}
	if err != nil {
		s.invoiceError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, walletView(wal, nil))
}

func (s *Server) listWallets(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	out := listJSON[walletJSON]{Object: "list", Data: []walletJSON{}}
	err := s.cfg.Store.View(ctx, func(tx store.Tx) error {
		ws, err := tx.Wallets(ctx, keyFrom(ctx).MerchantID)
		if err != nil {
			return err
		}
		out.Data = out.Data[:0]
		for _, x := range ws {
			var paid *uint32
			if x.Descriptor != "" {
				if paid, err = tx.HighestPaidIndex(ctx, x.ID); err != nil {
					return err
				}
			}
			out.Data = append(out.Data, walletView(x, paid))
		}
		return nil
	})
	if err != nil {
		s.internal(w, r, err)
		return
	}
	unswept, err := s.unsweptByWallet(ctx, keyFrom(ctx).MerchantID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	for i := range out.Data {
		if u := unswept[out.Data[i].ID]; u != nil {
			out.Data[i].Unswept = u
		}
	}
	writeJSON(w, http.StatusOK, out)
}
