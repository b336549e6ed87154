package refunds

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/money"
	"github.com/chainpay/chainpay/store"
)

// View is a refund as the API returns it and as webhook events carry it.
type View struct {
	ID            string     `json:"id"`
	Object        string     `json:"object"`
	InvoiceID     string     `json:"invoice_id"`
	Status        string     `json:"status"`
	Amount        string     `json:"amount"` // in Currency
	Currency      string     `json:"currency"`
	AmountAsset   string     `json:"amount_asset"` // in Asset
	AmountAtomic  string     `json:"amount_atomic"`
	Asset         string     `json:"asset"`
	Chain         string     `json:"chain"`
	Network       string     `json:"network"`
	Contract      *string    `json:"contract"`
	Decimals      int32      `json:"decimals"`
	FeeFromAmount bool       `json:"fee_from_amount"`
	NetworkFee    *string    `json:"network_fee_atomic"`
	RatePolicy    string     `json:"rate_policy"`
	Rate          string     `json:"rate"`
	RateSource    string     `json:"rate_source"`
	RateAt        time.Time  `json:"rate_at"`
	Reason        *string    `json:"reason"`
	Destination   *string    `json:"destination"`
	ClaimURL      string     `json:"claim_url"`
	ClaimedAt     *time.Time `json:"claimed_at"`
	TxID          *string    `json:"txid"`
	BlockHeight   *int64     `json:"block_height"`
	FailureReason *string    `json:"failure_reason"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	CompletedAt   *time.Time `json:"completed_at"`
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// View renders r.
func (s *Service) View(r store.Refund) View {
	scale := int32(0)
	if c, ok := money.Currency(r.Currency); ok {
		scale = c.Scale
	} else if r.Currency == r.Asset {
		scale = r.Scale
	}
	v := View{ID: r.ID, Object: "refund", InvoiceID: r.InvoiceID, Status: r.Status,
		Amount: money.FormatAmount(r.AmountFiat, scale), Currency: r.Currency,
		AmountAsset: money.FormatAmount(r.AmountAtomic, r.Scale), AmountAtomic: r.AmountAtomic.String(),
		Asset: r.Asset, Chain: r.Chain, Network: r.Network, Contract: strPtr(r.Contract), Decimals: r.Scale,
		FeeFromAmount: r.FeeFromAmount, RatePolicy: r.RatePolicy, Rate: r.Rate, RateSource: r.RateSource, RateAt: r.RateAt,
		Reason: strPtr(r.Reason), Destination: strPtr(r.Destination), ClaimURL: s.ClaimURL(r.ID), ClaimedAt: r.ClaimedAt,
		TxID: strPtr(r.TxID), BlockHeight: r.BlockHeight, FailureReason: strPtr(r.FailureReason),
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, CompletedAt: r.CompletedAt}
	if r.NetworkFee != nil {
		f := r.NetworkFee.String()
		v.NetworkFee = &f
	}
	return v
}

// Get returns the merchant's refund ("" merchant: any, for the refund page).
func (s *Service) Get(ctx context.Context, merchantID, id string) (store.Refund, error) {
	var r store.Refund
	err := s.st.View(ctx, func(tx store.Tx) (err error) {
		r, err = s.GetTx(ctx, tx, merchantID, id)
		return err
	})
	return r, err
}

// GetTx is Get inside tx.
func (s *Service) GetTx(ctx context.Context, tx store.Tx, merchantID, id string) (store.Refund, error) {
	r, err := tx.GetRefund(ctx, merchantID, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Refund{}, ErrNotFound
	}
	return r, err
}

// List returns the merchant's refunds f selects, newest first.
func (s *Service) List(ctx context.Context, f store.RefundFilter) ([]store.Refund, error) {
	var out []store.Refund
	err := s.st.View(ctx, func(tx store.Tx) (err error) {
		if f.InvoiceID != "" {
			if _, err := tx.GetInvoice(ctx, f.MerchantID, f.InvoiceID); errors.Is(err, store.ErrNotFound) {
				return invoices.ErrNotFound
			} else if err != nil {
				return err
			}
		}
		out, err = tx.ListRefunds(ctx, f)
		return err
	})
	return out, err
}

// CancelTx cancels a refund that nothing was sent for yet (pending or claimed).
func (s *Service) CancelTx(ctx context.Context, tx store.Tx, merchantID, id string) (store.Refund, error) {
	return s.move(ctx, tx, merchantID, id, store.RefundCancelled, func(r *store.Refund) error { return nil })
}

// FailTx gives up a claimed or sent refund whose transaction was refused or vanished; the
// amount becomes refundable again. reason is required.
func (s *Service) FailTx(ctx context.Context, tx store.Tx, merchantID, id, reason string) (store.Refund, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" || len(reason) > 500 {
		return store.Refund{}, &invoices.ValidationError{Fields: map[string]string{"reason": "required, at most 500 characters"}}
	}
	return s.move(ctx, tx, merchantID, id, store.RefundFailed, func(r *store.Refund) error {
		r.FailureReason = reason
		return nil
	})
}

// ClaimTx records the destination the customer gives on the refund page. A refund is
// claimed once: a second claim, or a claim of a refund the merchant gave a destination,
// is a StateError and changes nothing. An invalid destination is a ValidationError naming
// field "destination".
func (s *Service) ClaimTx(ctx context.Context, tx store.Tx, id, destination string) (store.Refund, error) {
	r, err := s.GetTx(ctx, tx, "", id)
	if err != nil {
		return store.Refund{}, err
	}
	if r.Status != store.RefundPending {
		return store.Refund{}, &invoices.StateError{Err: fmt.Errorf("refund %s is %s: its destination is already set and locked", id, r.Status)}
	}
	dest, err := ParseDestination(whereOf(r), destination)
	if err != nil {
		return store.Refund{}, &invoices.ValidationError{Fields: map[string]string{"destination": err.Error()}}
	}
	return s.move(ctx, tx, "", id, store.RefundClaimed, func(r *store.Refund) error {
		now := s.now()
		r.Destination, r.ClaimedAt = dest, &now
		return nil
	})
}

// move loads the refund, applies change and moves it to status to if Transitions allows
// it, with the transition's event.
func (s *Service) move(ctx context.Context, tx store.Tx, merchantID, id, to string, change func(*store.Refund) error) (store.Refund, error) {
	r, err := s.GetTx(ctx, tx, merchantID, id)
	if err != nil {
		return store.Refund{}, err
	}
	if !CanTransition(r.Status, to) {
		return store.Refund{}, &invoices.StateError{Err: fmt.Errorf("refund %s is %s and cannot become %s", id, r.Status, to)}
	}
	if err := change(&r); err != nil {
		return store.Refund{}, err
	}
	return s.setStatus(ctx, tx, r, to)
}

// setStatus writes r with status to and appends the transition's event.
func (s *Service) setStatus(ctx context.Context, tx store.Tx, r store.Refund, to string) (store.Refund, error) {
	var ev string
	for _, t := range Transitions {
		if t.From == r.Status && t.To == to {
			ev = t.Event
		}
	}
	now := s.now()
	r.Status, r.UpdatedAt = to, now
	if err := tx.UpdateRefund(ctx, r); err != nil {
		return store.Refund{}, err
	}
	r.Version++
	if ev == "" {
		return r, nil
	}
	return r, s.appendEvents(ctx, tx, r, []string{ev}, now)
}

// Claim is ClaimTx in its own transaction (the refund page).
func (s *Service) Claim(ctx context.Context, id, destination string) (store.Refund, error) {
	var r store.Refund
	err := s.st.Tx(ctx, func(tx store.Tx) (err error) {
		r, err = s.ClaimTx(ctx, tx, id, destination)
		return err
	})
	return r, err
}
