package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/shopspring/decimal"

	"github.com/chainpay/chainpay/api"
	"github.com/chainpay/chainpay/apikey"
	"github.com/chainpay/chainpay/chains/bitcoin"
	"github.com/chainpay/chainpay/deposit"
	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/money"
	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/storetest"
)

// testChain is a chain for API tests: deposit addresses "tst1<wallet>-<index>" from the
// real index allocator, an exact "test:" URI.
type testChain struct{}

func (testChain) Assets(store.Wallet) ([]money.Asset, error) {
	return []money.Asset{{Code: "TBTC", Scale: 8, Chain: "testchain"}}, nil
}

func (testChain) DepositAddress(ctx context.Context, tx store.Tx, w store.Wallet, _ string) (string, *uint32, error) {
	i, err := tx.AllocateIndex(ctx, w.ID)
	if err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("tst1%s-%d", w.ID, i), &i, nil
}

func (testChain) PaymentURI(o store.PaymentOption, amount *big.Int, _ string) string {
	return "test:" + o.Address + "?amount=" + money.FormatAmount(amount, o.Scale)
}

func (testChain) Confirmations() int { return 1 }

// quoter answers TBTC-<fiat> at a fixed rate, or fails when down is set.
type quoter struct {
	mu   sync.Mutex
	down bool
}

func (q *quoter) Quote(_ context.Context, base, quote string) (invoices.Quote, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.down {
		return invoices.Quote{}, errors.New("all sources stale")
	}
	return invoices.Quote{Rate: decimal.RequireFromString("60000.12"), Source: "test", At: time.Now(), Raw: `[]`}, nil
}

// env is one running API on a real store.
type env struct {
	t      *testing.T
	st     store.Store
	srv    *httptest.Server
	quoter *quoter
	oa     *openAPI
	api    *api.Server // the server behind srv
}

// merchant is a store with a key and a wallet.
type merchant struct {
	id, key string
}

// setup starts the API on a fresh store of backend b; opts adjust its Config (Store and
// Invoices are already set when they run).
func setup(t *testing.T, b storetest.Backend, opts ...func(*api.Config)) *env {
	t.Helper()
	st := b.Open(t)
	q := &quoter{}
	svc, err := invoices.New(st, invoices.Config{Chains: map[string]invoices.Chain{
		"testchain": testChain{}, "bitcoin": deposit.NewBitcoin(bitcoin.Mainnet, 1)}, Quoter: q})
	if err != nil {
		t.Fatal(err)
	}
	cfg := api.Config{Store: st, Invoices: svc, PublicURL: "https://pay.example"}
	for _, o := range opts {
		o(&cfg)
	}
	a := api.New(cfg)
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	return &env{t: t, st: st, srv: srv, quoter: q, oa: loadOpenAPI(t), api: a}
}

// newMerchant creates a store with a wallet and a key carrying perms (all when empty).
func (e *env) newMerchant(name string, perms ...string) merchant {
	e.t.Helper()
	if len(perms) == 0 {
		perms = apikey.All()
	}
	now := time.Now()
	m := store.Merchant{ID: store.NewID("sto", now), Name: name, CreatedAt: now}
	plain, k := apikey.New(m.ID, perms, now)
	err := e.st.Tx(context.Background(), func(tx store.Tx) error {
		if err := tx.CreateMerchant(context.Background(), m); err != nil {
			return err
		}
		if err := tx.CreateAPIKey(context.Background(), k); err != nil {
			return err
		}
		return tx.CreateWallet(context.Background(), store.Wallet{ID: store.NewID("wal", now), MerchantID: m.ID,
			Chain: "testchain", Network: "testnet", Descriptor: "test " + m.ID, CreatedAt: now})
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return merchant{id: m.ID, key: plain}
}

// response is a finished HTTP exchange.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("response is not a JSON object: %v: %s", err, r.body)
	}
	return v
}

// do sends a request and validates it against the OpenAPI document: the response always,
// the request whenever the server accepted it (2xx) — the server must not accept what the
// document forbids.
func (e *env) do(method, path, key string, body any, headers ...string) response {
	e.t.Helper()
	var rd io.Reader
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			e.t.Fatal(err)
		}
	}
	if raw != nil {
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if raw != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	r := response{status: resp.StatusCode, header: resp.Header, body: out}
	e.oa.check(e.t, req, raw, r)
	return r
}

type openAPI struct {
	router routers.Router
	mu     sync.Mutex
	seen   map[string]bool // "METHOD path-template status" validated
}

var (
	oaOnce sync.Once
	oaDoc  *openapi3.T
	oaErr  error
)

func loadOpenAPI(t *testing.T) *openAPI {
	t.Helper()
	oaOnce.Do(func() {
		oaDoc, oaErr = openapi3.NewLoader().LoadFromData(api.OpenAPI())
		if oaErr == nil {
			oaErr = oaDoc.Validate(context.Background())
		}
	})
	if oaErr != nil {
		t.Fatalf("openapi.yaml: %v", oaErr)
	}
	r, err := legacy.NewRouter(oaDoc)
	if err != nil {
		t.Fatal(err)
	}
	return &openAPI{router: r, seen: map[string]bool{}}
}

func (o *openAPI) check(t *testing.T, req *http.Request, body []byte, r response) {
	t.Helper()
	vreq := req.Clone(context.Background())
	if body != nil {
		vreq.Body = io.NopCloser(bytes.NewReader(body))
	}
	route, params, err := o.router.FindRoute(vreq)
	if err != nil {
		// Only unknown endpoints may be missing from the document, and they must be 404/405 problems.
		if (r.status != http.StatusNotFound && r.status != http.StatusMethodNotAllowed) ||
			r.header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s %s is not in openapi.yaml but answered %d %s", req.Method, req.URL.Path, r.status, r.header.Get("Content-Type"))
		}
		return
	}
	in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	if r.status/100 == 2 {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			t.Errorf("server accepted (%d) a request openapi.yaml forbids: %s %s: %v", r.status, req.Method, req.URL.Path, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: r.status, Header: r.header,
		Body: io.NopCloser(bytes.NewReader(r.body)), Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Errorf("response does not match openapi.yaml: %s %s -> %d: %v\n%s", req.Method, req.URL.Path, r.status, err, truncate(r.body))
	}
	o.mu.Lock()
	o.seen[req.Method+" "+route.Path+" "+fmt.Sprint(r.status)] = true
	o.mu.Unlock()
}

func truncate(b []byte) string {
	s := string(b)
	if len(s) > 600 {
		s = s[:600] + "..."
	}
	return strings.TrimSpace(s)
}
