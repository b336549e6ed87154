package greenfield

import (
	"slices"
	"sort"
	"strings"

	"github.com/chainpay/chainpay/apikey"
	"github.com/chainpay/chainpay/invoices"
	"github.com/chainpay/chainpay/money"
)

// BTCPay permission names (without the ":storeId" suffix).
const (
	PermViewInvoices         = "btcpay.store.canviewinvoices"
	PermCreateInvoice        = "btcpay.store.cancreateinvoice"
	PermModifyInvoices       = "btcpay.store.canmodifyinvoices"
	PermViewStoreSettings    = "btcpay.store.canviewstoresettings"
	PermModifyStoreSettings  = "btcpay.store.canmodifystoresettings"
	PermModifyWebhooks       = "btcpay.store.webhooks.canmodifywebhooks"
	PermViewReports          = "btcpay.store.canviewreports"
	PermCreateNonApprovedPPs = "btcpay.store.cancreatenonapprovedpullpayments"
	PermCreatePullPayments   = "btcpay.store.cancreatepullpayments"
	PermViewPullPayments     = "btcpay.store.canviewpullpayments"
)

// permissionMap maps each chainpay permission to the BTCPay permissions it grants.
var permissionMap = map[string][]string{
	apikey.InvoicesRead:   {PermViewInvoices, PermViewStoreSettings},
	apikey.InvoicesWrite:  {PermCreateInvoice, PermModifyInvoices},
	apikey.WebhooksManage: {PermModifyWebhooks},
	apikey.WalletsRead:    {PermModifyStoreSettings},
	apikey.WalletsWrite:   {PermModifyStoreSettings},
	apikey.ExportsRead:    {PermViewReports},
	// A chainpay refund waits for the merchant's wallet to send it: BTCPay's "non-approved"
	// pull payment. Only this name is shown (the WooCommerce plugin refuses a key with a
	// permission outside its list, and cancreatepullpayments is not on it).
	apikey.RefundsWrite: {PermCreateNonApprovedPPs},
	// refunds:read lists the store's pull payments (chainpay refunds).
	apikey.RefundsRead: {PermViewPullPayments},
}

// requestAliases are BTCPay permissions an application may request that chainpay grants
// with a permission whose shown name differs.
var requestAliases = map[string]string{PermCreatePullPayments: apikey.RefundsWrite}

// Permissions returns the BTCPay permissions of a key with the chainpay permissions perms,
// each scoped to the store ("btcpay.store.canviewinvoices:sto_..."), sorted, without
// duplicates.
func Permissions(perms []string, storeID string) []string {
	var out []string
	for _, p := range perms {
		for _, g := range permissionMap[p] {
			if q := g + ":" + storeID; !slices.Contains(out, q) {
				out = append(out, q)
			}
		}
	}
	sort.Strings(out)
	if out == nil {
		out = []string{}
	}
	return out
}

func greenfieldNames(perm string) string { return strings.Join(permissionMap[perm], " and ") }

// chainpayPermissions maps requested BTCPay permissions (with or without a ":store" suffix)
// to the chainpay permissions that grant them. Unknown or unsupported ones are returned in
// unsupported; "unrestricted" is never granted by the authorize page.
func chainpayPermissions(requested []string) (perms, unsupported []string) {
	for _, r := range requested {
		name, _, _ := strings.Cut(strings.TrimSpace(r), ":")
		found := false
		for _, cp := range []string{apikey.InvoicesRead, apikey.InvoicesWrite, apikey.WebhooksManage, apikey.ExportsRead, apikey.RefundsRead, apikey.RefundsWrite} {
			if slices.Contains(permissionMap[cp], name) || requestAliases[name] == cp {
				found = true
				if !slices.Contains(perms, cp) {
					perms = append(perms, cp)
				}
			}
		}
		if !found && name != "" && !slices.Contains(unsupported, name) {
			unsupported = append(unsupported, name)
		}
	}
	return perms, unsupported
}

// Statuses.
func invoiceStatus(s string) string {
	switch invoices.Status(s) {
	case invoices.StatusNew:
		return "New"
	case invoices.StatusProcessing:
		return "Processing"
	case invoices.StatusSettled:
		return "Settled"
	case invoices.StatusExpired:
		return "Expired"
	case invoices.StatusInvalid:
		return "Invalid"
	}
	return "Invalid"
}

// additionalStatus picks Greenfield's single additionalStatus from chainpay's flags: a
// merchant's decision first (Marked; a cancel shows as Marked too), then PaidLate, PaidOver,
// PaidPartial, else None. reorged has no Greenfield counterpart and shows nothing.
func additionalStatus(flags []string) string {
	has := func(f invoices.Flag) bool { return slices.Contains(flags, string(f)) }
	switch {
	case has(invoices.FlagMarked) || has(invoices.FlagCanceled):
		return "Marked"
	case has(invoices.FlagPaidLate):
		return "PaidLate"
	case has(invoices.FlagPaidOver):
		return "PaidOver"
	case has(invoices.FlagPaidPartial):
		return "PaidPartial"
	}
	return "None"
}

// Speed policies: the Bitcoin confirmations each stands for (BTCPay's definitions).
var speedPolicies = map[string]int{"HighSpeed": 0, "MediumSpeed": 1, "LowMediumSpeed": 2, "LowSpeed": 6}

// speedPolicyOf is the policy whose count equals confs, or "" when none does.
func speedPolicyOf(confs int) string {
	for name, n := range speedPolicies {
		if n == confs {
			return name
		}
	}
	return ""
}

// PaymentMethodID is the Greenfield payment method id of an asset on a chain: Bitcoin
// on-chain is BTCPay's "BTC-CHAIN"; every other asset is ASSET-NETWORK with the chainpay
// chain name in upper case ("ETH-ETHEREUM", "USDC-ETHEREUM", "USDC-BASE"), so each EVM
// network chainpay follows gets its own id and one asset on two networks never collides.
func PaymentMethodID(asset, chain string) string {
	if chain == money.ChainBitcoin && asset == "BTC" {
		return "BTC-CHAIN"
	}
	return asset + "-" + strings.ToUpper(chain)
}

// legacyMethodIDs are the BTCPay 1.x names a plugin configured against an older server may
// still send: "BTC" and "BTC-OnChain" are Bitcoin on-chain.
var legacyMethodIDs = map[string]string{"BTC": "BTC-CHAIN", "BTC-OnChain": "BTC-CHAIN", "BTC-OnChainV2": "BTC-CHAIN"}
