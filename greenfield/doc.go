// Package greenfield answers the part of BTCPay Server's Greenfield API that shop plugins
// (the WooCommerce plugin and others built on BTCPay's client libraries) use, over
// chainpay's own services: a merchant moves a shop from BTCPay to chainpay by pasting
// chainpay's URL and an API key into the plugin.
//
// # Routes
//
// Server serves, under /api/v1/: api-keys/current, server/info, stores, stores/{storeId},
// stores/{storeId}/payment-methods, stores/{storeId}/invoices (POST), .../invoices/{id},
// .../invoices/{id}/payment-methods, .../invoices/{id}/status, .../invoices/{id}/refund,
// stores/{storeId}/pull-payments (POST; both create a chainpay refund whose viewLink is
// its claim page /r/{id}; GET lists the store's refunds, DELETE .../{id} archives = cancels
// one nothing was sent for), pull-payments/{id} and pull-payments/{id}/payouts (public reads,
// as BTCPay's) and stores/{storeId}/webhooks[/{id}]; beside them the interactive /api-keys/authorize page
// and the checkout modal script /modal/btcpay.js (window.btcpay, opening chainpay's
// checkout in an iframe overlay). Everything else under /api/v1/ is a 501
// in Greenfield's error shape, so a plugin shows what is missing instead of a parse error.
//
// # Keys, stores and permissions
//
// Keys are chainpay keys ("Authorization: token cpk_..."; Bearer is accepted too), checked
// as package api checks them: prefix lookup, hash compared in constant time, revocation. A
// key belongs to one chainpay store (a merchant); its id is the Greenfield storeId. Another
// store's id answers 404, as chainpay's own API does. Permissions are shown under BTCPay's
// names, mapped from chainpay's (Permissions): invoices:read is canviewinvoices and
// canviewstoresettings (the store's name and enabled payment methods, never a key or xpub),
// invoices:write is cancreateinvoice and canmodifyinvoices, webhooks:manage is
// webhooks.canmodifywebhooks, wallets:read and wallets:write are canmodifystoresettings,
// exports:read is canviewreports, refunds:write is cancreatenonapprovedpullpayments and
// refunds:read canviewpullpayments. The plugin insists on exactly its required set, so a shop
// gets a key with invoices:read, invoices:write and webhooks:manage, nothing more.
//
// # Errors
//
// Errors are Greenfield's: {"code","message"} with the HTTP status, and for invalid
// input a 422 with an array of {"path","message"}, one per field, where path is the
// Greenfield JSON path (checkout.expirationMinutes, metadata.orderId, ...). Bad input
// changes nothing.
//
// # Mapping
//
// Statuses, payment method ids, speed policies and webhook events are mapped by the
// functions in mapping.go; docs/greenfield.md has the tables.
package greenfield
