package refunds

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/ethereum/go-ethereum/common"

	"github.com/chainpay/chainpay/chains/bitcoin"
	"github.com/chainpay/chainpay/chains/ethereum"
)

// maxDestinationLen bounds what a customer may paste on the refund page.
const maxDestinationLen = 2048

// ErrDestination is wrapped by every error of ParseDestination.
var ErrDestination = errors.New("invalid refund destination")

// Where names the chain, network and asset a destination must be valid for: the refund's.
type Where struct {
	Chain    string // "bitcoin" or an EVM chain name ("ethereum")
	Network  string // Bitcoin network ("mainnet", "regtest", ...) or the EVM chain id
	Contract string // ERC-20 contract of the asset; "" for the native coin
}

// ParseDestination validates a refund destination for w and returns the address in its
// canonical form: a Bitcoin address of w's network (plain or a BIP21 "bitcoin:" URI), or an
// EVM address (plain, EIP-55 checked when mixed case, or an EIP-681 "ethereum:" URI for the
// same chain id and, for a token, the same contract). An amount in a URI is ignored (the
// refund's amount decides). The zero address is refused. Errors wrap ErrDestination and say
// what is wrong in words a customer understands.
func ParseDestination(w Where, s string) (string, error) {
	s = strings.TrimSpace(s)
	fail := func(format string, args ...any) (string, error) {
		return "", fmt.Errorf("%w: "+format, append([]any{ErrDestination}, args...)...)
	}
	switch {
	case s == "":
		return fail("an address is required")
	case len(s) > maxDestinationLen:
		return fail("%d characters, at most %d", len(s), maxDestinationLen)
	}
	if w.Chain == "bitcoin" {
		uri := s
		if !strings.HasPrefix(strings.ToLower(s), "bitcoin:") {
			if strings.ContainsAny(s, ":?&=/ ") {
				return fail("not a Bitcoin address or bitcoin: URI")
			}
			uri = "bitcoin:" + s
		}
		u, err := bitcoin.ParseBIP21(uri, bitcoin.Network(w.Network))
		if err != nil {
			return fail("%v", err)
		}
		return u.Address.EncodeAddress(), nil
	}
	var to common.Address
	if strings.HasPrefix(strings.ToLower(s), "ethereum:") {
		u, err := ethereum.ParsePaymentURI(s)
		if err != nil {
			return fail("%v", err)
		}
		if want, err := strconv.ParseUint(w.Network, 10, 64); err == nil && u.ChainID != 0 && u.ChainID != want {
			return fail("the URI is for chain id %d, this refund is paid on chain id %d", u.ChainID, want)
		}
		switch {
		case u.Token == nil && w.Contract != "":
			// A plain "ethereum:0xADDR" names the account; accept it for a token refund too.
		case u.Token != nil && w.Contract == "":
			return fail("the URI asks for a token transfer, this refund is paid in the native coin")
		case u.Token != nil && !strings.EqualFold(u.Token.Hex(), w.Contract):
			return fail("the URI names token %s, this refund is paid in token %s", u.Token.Hex(), w.Contract)
		}
		to = u.To
	} else {
		a, err := ethereum.ParseAddress(s)
		if err != nil {
			return fail("%v", err)
		}
		to = a
	}
	if to == (common.Address{}) {
		return fail("the zero address cannot receive a refund")
	}
	return ethereum.FormatAddress(to), nil
}
