package webhooks_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chainpay/chainpay/store"
	"github.com/chainpay/chainpay/store/storetest"
	"github.com/chainpay/chainpay/webhooks"
)

func TestServiceEndpoints(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, b storetest.Backend) {
		bd := setup(t, b)
		strict, err := webhooks.NewService(bd.st, &webhooks.Config{Now: bd.clock.Now, MaxEndpoints: 2,
			Guard: webhooks.Guard{Resolver: resolver}})
		if err != nil {
			t.Fatal(err)
		}
		bad := []struct {
			url    string
			events []string
			field  string
			cause  error
		}{
			{"https://hooks.example.com/x", nil, "events", nil},
			{"https://hooks.example.com/x", []string{"invoice.settled", "invoice.paid"}, "events[1]", nil},
			{"http://169.254.169.254/latest", []string{"*"}, "url", webhooks.ErrForbiddenAddress},
			{"https://internal.corp/x", []string{"*"}, "url", webhooks.ErrForbiddenAddress},
			{"ftp://hooks.example.com/x", []string{"*"}, "url", webhooks.ErrBadURL},
		}
		for _, tc := range bad {
			_, err := strict.Create(ctx, bd.merchant, tc.url, tc.events, "")
			var ie *webhooks.InvalidError
			if !errors.As(err, &ie) || ie.Field != tc.field || !errors.Is(err, webhooks.ErrInvalid) ||
				tc.cause != nil && !errors.Is(err, tc.cause) {
				t.Fatalf("Create(%s, %v) = %v, want an invalid %s", tc.url, tc.events, err, tc.field)
			}
		}
		ep, err := strict.Create(ctx, bd.merchant, "https://hooks.example.com/x",
			[]string{"invoice.settled", "invoice.settled", "invoice.expired"}, "orders")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(ep.Secret, "whsec_") || len(ep.Secret) < 40 || !ep.Enabled ||
			strings.Join(ep.Events, ",") != "invoice.settled,invoice.expired" {
			t.Fatalf("created %+v", ep)
		}
		got, err := strict.Get(ctx, bd.merchant, ep.ID)
		if err != nil || got.Secret != "" || got.URL != ep.URL {
			t.Fatalf("Get = %+v, %v: the secret is shown only once", got, err)
		}
		if _, err := strict.Get(ctx, "sto_other", ep.ID); !errors.Is(err, webhooks.ErrNotFound) {
			t.Fatalf("another store's endpoint: %v", err)
		}
		if _, err := strict.Create(ctx, bd.merchant, "https://hooks.example.com/y", []string{"*"}, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := strict.Create(ctx, bd.merchant, "https://hooks.example.com/z", []string{"*"}, ""); !errors.Is(err, webhooks.ErrTooManyEndpoints) {
			t.Fatalf("third endpoint with a limit of 2: %v", err)
		}
		list, err := strict.List(ctx, bd.merchant)
		if err != nil || len(list) != 2 || list[0].Secret != "" {
			t.Fatalf("List = %+v, %v", list, err)
		}
		if _, _, err := strict.Deliveries(ctx, "sto_other", ep.ID, "", 10); !errors.Is(err, webhooks.ErrNotFound) {
			t.Fatalf("deliveries of another store's endpoint: %v", err)
		}
		if _, _, err := strict.Deliveries(ctx, bd.merchant, ep.ID, "", 1000); !errors.Is(err, webhooks.ErrInvalid) {
			t.Fatalf("limit 1000: %v", err)
		}
		if err := strict.Delete(ctx, "sto_other", ep.ID); !errors.Is(err, webhooks.ErrNotFound) {
			t.Fatalf("delete another store's endpoint: %v", err)
		}
		if err := strict.Delete(ctx, bd.merchant, ep.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := strict.Get(ctx, bd.merchant, ep.ID); !errors.Is(err, webhooks.ErrNotFound) {
			t.Fatalf("deleted endpoint: %v", err)
		}
	})
}

// TestRotateSecretAndRunningLoops runs the Dispatcher and Deliverer loops together and
// checks that during a rotation each request verifies with the old and the new secret.
func TestRotateSecretAndRunningLoops(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, b storetest.Backend) {
		bd := setup(t, b)
		type sig struct{ header, body string }
		seen := make(chan sig, 10)
		ep := bd.endpoint(t, newReceiver(t, ok))
		rotated, err := bd.svc.RotateSecret(ctx, bd.merchant, ep.ID, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		var capture *receiver
		capture = newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
			capture.mu.Lock()
			body := capture.bodies[capture.received[len(capture.received)-1]]
			capture.mu.Unlock()
			seen <- sig{r.Header.Get(webhooks.SignatureHeader), string(body)}
		})
		local := capture.srv.URL + "/hook"
		if _, err := bd.svc.Update(ctx, bd.merchant, ep.ID, webhooks.Update{URL: &local}); err != nil {
			t.Fatal(err)
		}
		bd.dispatch(t) // nothing yet: the loop below does the work
		disp, err := webhooks.NewDispatcher(bd.st, bd.snaps, &webhooks.DispatcherConfig{Now: bd.clock.Now,
			Interval: 5 * time.Millisecond, Retry: testPolicy})
		if err != nil {
			t.Fatal(err)
		}
		disp.Start(ctx)
		disp.Start(ctx) // a second Start does nothing
		t.Cleanup(disp.Stop)
		bd.deliverer(t, webhooks.DelivererConfig{}, false)
		bd.event(t, webhooks.EventInvoiceSettled, 0)
		s := <-seen
		for _, secret := range []string{ep.Secret, rotated.Secret} {
			if err := webhooks.Verify(secret, s.header, []byte(s.body), time.Minute, bd.clock.Now()); err != nil {
				t.Fatalf("during the rotation, secret %s…: %v", secret[:10], err)
			}
		}
		bd.waitAll(t, ep.ID, 1, "delivery", func(d webhooks.Delivery) bool { return d.Status == store.WebhookDelivered })
		disp.Stop()
		disp.Stop()
	})
}
