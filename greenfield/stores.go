package greenfield

import (
	"errors"
	"net/http"

	"github.com/chainpay/chainpay/store"
)

type apiKeyJSON struct {
	APIKey      string   `json:"apiKey"`
	Label       string   `json:"label"`
	Permissions []string `json:"permissions"`
}

// currentKey is GET api-keys/current: the presented key with its permissions under BTCPay's
// names, scoped to its store.
func (s *Server) currentKey(w http.ResponseWriter, r *http.Request) {
	k := keyFrom(r.Context())
	token, _ := tokenOf(r.Header.Get("Authorization"))
	writeJSON(w, http.StatusOK, apiKeyJSON{APIKey: token, Label: k.ID, Permissions: Permissions(k.Permissions, k.MerchantID)})
}

type serverInfoJSON struct {
	Version                 string   `json:"version"`
	Onion                   *string  `json:"onion"`
	SupportedPaymentMethods []string `json:"supportedPaymentMethods"`
	FullySynched            bool     `json:"fullySynched"`
	SyncStatus              []any    `json:"syncStatus"`
	Server                  string   `json:"server"` // not in Greenfield: says who answers
}

// serverInfo is GET server/info. fullySynched is true: chainpay creates invoices while a
// chain catches up (expiry waits for the chain, see DESIGN §4), so there is nothing a plugin
// should wait for; /readyz tells operators about the nodes.
func (s *Server) serverInfo(w http.ResponseWriter, r *http.Request) {
	k := keyFrom(r.Context())
	out := serverInfoJSON{Version: Version, SupportedPaymentMethods: []string{}, FullySynched: true, SyncStatus: []any{},
		Server: "chainpay"}
	assets, err := s.cfg.Invoices.Assets(r.Context(), k.MerchantID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	for _, a := range assets {
		out.SupportedPaymentMethods = append(out.SupportedPaymentMethods, PaymentMethodID(a.Code, a.Chain))
	}
	writeJSON(w, http.StatusOK, out)
}

type storeJSON struct {
	ID                   string  `json:"id"`
	Name                 string  `json:"name"`
	Website              *string `json:"website"`
	DefaultCurrency      *string `json:"defaultCurrency"`
	InvoiceExpiration    int64   `json:"invoiceExpiration"`    // seconds
	MonitoringExpiration int64   `json:"monitoringExpiration"` // seconds
	SpeedPolicy          string  `json:"speedPolicy"`
	PaymentTolerance     float64 `json:"paymentTolerance"`
	Archived             bool    `json:"archived"`
}

func (s *Server) storeView(m store.Merchant) storeJSON {
	return storeJSON{ID: m.ID, Name: m.Name, InvoiceExpiration: 15 * 60, MonitoringExpiration: s.cfg.MonitoringMinutes * 60,
		SpeedPolicy: "MediumSpeed"}
}

func (s *Server) merchant(r *http.Request) (store.Merchant, error) {
	var m store.Merchant
	err := s.cfg.Store.View(r.Context(), func(tx store.Tx) (err error) {
		m, err = tx.GetMerchant(r.Context(), keyFrom(r.Context()).MerchantID)
		return err
	})
	return m, err
}

// listStores is GET stores: the key's one store.
func (s *Server) listStores(w http.ResponseWriter, r *http.Request) {
	m, err := s.merchant(r)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, []storeJSON{s.storeView(m)})
}

func (s *Server) getStore(w http.ResponseWriter, r *http.Request) {
	m, err := s.merchant(r)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "store-not-found", "no such store for this API key")
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.storeView(m))
}

type storePaymentMethodJSON struct {
	PaymentMethodID string `json:"paymentMethodId"`
	Enabled         bool   `json:"enabled"`
	CryptoCode      string `json:"cryptoCode"`
	Config          any    `json:"config"` // never the wallet's key: null
}

// storePaymentMethods is GET stores/{storeId}/payment-methods in BTCPay 2.0's list shape:
// one enabled method per asset the store's wallets accept. No wallet configuration is
// shown (an xpub reveals every address; chainpay's wallets:read guards it).
func (s *Server) storePaymentMethods(w http.ResponseWriter, r *http.Request) {
	assets, err := s.cfg.Invoices.Assets(r.Context(), keyFrom(r.Context()).MerchantID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := []storePaymentMethodJSON{}
	for _, a := range assets {
		out = append(out, storePaymentMethodJSON{PaymentMethodID: PaymentMethodID(a.Code, a.Chain), Enabled: true, CryptoCode: a.Code})
	}
	writeJSON(w, http.StatusOK, out)
}
