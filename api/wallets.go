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
	CreatedAt    time.Time `json:"created_at"`
	// Unswept: balances left in the wallet's EVM deposit addresses (api/wallets_unswept.go).
	Unswept []unsweptJSON `json:"unswept"`
}

func walletView(w store.Wallet) walletJSON {
	v := walletJSON{ID: w.ID, Object: "wallet", Chain: w.Chain, Network: w.Network, Descriptor: strPtr(w.Descriptor),
		Treasury: strPtr(w.Treasury), Tokens: w.Tokens, CreatedAt: w.CreatedAt, Unswept: []unsweptJSON{}}
	if v.Tokens == nil {
		v.Tokens = []string{}
	}
	if w.NextIndex > 0 {
		h := w.NextIndex - 1
		v.HighestIndex = &h
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
	if errors.Is(err, invoices.ErrWalletExists) {
		writeProblem(w, Problem{Type: typeConflict, Status: http.StatusConflict, Detail: err.Error()})
		return
	}
	if err != nil {
		s.invoiceError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, walletView(wal))
}

func (s *Server) listWallets(w http.ResponseWriter, r *http.Request) {
	ws, err := s.cfg.Invoices.Wallets(r.Context(), keyFrom(r.Context()).MerchantID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	unswept, err := s.unsweptByWallet(r.Context(), keyFrom(r.Context()).MerchantID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := listJSON[walletJSON]{Object: "list", Data: []walletJSON{}}
	for _, x := range ws {
		v := walletView(x)
		if u := unswept[x.ID]; u != nil {
			v.Unswept = u
		}
		out.Data = append(out.Data, v)
	}
	writeJSON(w, http.StatusOK, out)
}
