// Package checkout serves the hosted checkout page: what a customer sees after the merchant
// sends them to pay an invoice, and how it stays current while they pay.
//
// # Routes
//
// New returns one http.Handler for everything under /i/; mount it there.
//
//	GET /i/{invoice_id}                  the page (server-rendered HTML, works without JavaScript)
//	GET /i/{invoice_id}/status           the Status JSON (the fallback when event streams fail)
//	GET /i/{invoice_id}/events           Server-Sent Events, one Status per change
//	GET /i/{invoice_id}/qr/{option}.png  the QR code of the option's wallet URI
//	GET /i/assets/checkout.css, .js      embedded assets (content-hashed URLs, cached for a year)
//
// Unknown invoice ids, malformed ids and unknown paths get a 404 page that holds no invoice
// data. The page shows the store name, the price, and per payment option the asset, the
// network, the exact amount to send now (the remaining amount after a partial payment), the
// deposit address with copy buttons, a QR code of the BIP21 / EIP-681 URI for that amount,
// and a countdown to expiry.
//
// # States
//
// What the customer is told is a pure function of the stored invoice, its payments, the
// chain followers' tips and the clock (see State): waiting → detected (paid in full, not in
// a block) → confirming ("n of m confirmations", n = tip − block height + 1 of the least
// confirmed payment, m = the option's required confirmations) → paid, with partial (the
// remaining amount, same address), expired and invalid on the side, each explaining what
// happened and what to do. Once paid, the page goes to the invoice's redirect URL when it has
// one. Nothing is kept in memory between requests, so several replicas may serve one
// invoice: every event stream re-reads the database every PollInterval and pushes the
// status when it changed.
//
// # Languages
//
// Messages come from the embedded catalogs messages/<code>.json (English, German, Spanish;
// every catalog has exactly the English keys). The language is chosen from ?lang=, then
// Accept-Language, then English.
//
// # Security
//
// Every response carries a strict Content-Security-Policy (default-src 'none'; only this
// origin's script, style, images and connections; no inline script or style; frame-ancestors
// 'none'), X-Content-Type-Options: nosniff and Referrer-Policy: no-referrer. All assets are
// embedded: no CDN, web font or third-party script. The one exception to frame-ancestors is
// the page with ?view=modal, which shops frame through /modal/btcpay.js (package
// greenfield): any http(s) page may frame it, and in a frame the page posts the invoice's
// status to its parent in BTCPay's names instead of redirecting itself.
package checkout
