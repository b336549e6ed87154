package checkout

import (
	"errors"
	"net/http"
	"strings"

	qrcode "github.com/skip2/go-qrcode"
)

// qrSize is the side of the QR PNG in pixels: sharp at the 240 CSS pixels the page shows it
// with on 2x screens.
const qrSize = 480

// serveQR answers /i/{id}/qr/{option id}.png: the QR code of the option's wallet URI for the
// amount due now. Invoices that no longer take payments get 410, so an old tab or a cached
// link never shows a code to pay.
func (h *Handler) serveQR(w http.ResponseWriter, r *http.Request) {
	optID, ok := strings.CutSuffix(r.PathValue("file"), ".png")
	if !ok || optID == "" {
		h.notFound(w, r)
		return
	}
	s, err := h.load(r.Context(), r.PathValue("id"))
	if errors.Is(err, errNotFound) {
		h.notFound(w, r)
		return
	}
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	st := h.status(s, h.cat.get(defaultLanguage), h.cfg.Now())
	var opt *OptionStatus
	for i := range st.Options {
		if st.Options[i].ID == optID {
			opt = &st.Options[i]
		}
	}
	if opt == nil {
		h.notFound(w, r)
		return
	}
	if !st.Payable || opt.URI == "" {
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "this invoice takes no more payments", http.StatusGone)
		return
	}
	png, err := qrcode.Encode(opt.URI, qrcode.Medium, qrSize)
	if err != nil {
		h.cfg.Logger.Error("checkout: encode QR", "invoice", st.InvoiceID, "option", optID, "err", err)
		http.Error(w, "cannot draw the QR code", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	// The amount in the URL (?a=) changes when the amount due changes, so a short private
	// cache is safe and spares re-encoding on reloads.
	w.Header().Set("Cache-Control", "private, max-age=60")
	_, _ = w.Write(png)
}
