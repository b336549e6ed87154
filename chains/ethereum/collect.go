package ethereum

import (
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
)

// balanceOfSelector is the 4-byte selector of ERC-20 balanceOf(address).
var balanceOfSelector = []byte{0x70, 0xa0, 0x82, 0x31}

// BalanceOfCalldata returns the calldata of ERC-20 balanceOf(owner).
func BalanceOfCalldata(owner common.Address) []byte {
	data := make([]byte, 4+32)
	copy(data, balanceOfSelector)
	copy(data[4+12:], owner.Bytes())
	return data
}

// ErrBadBalance reports a balanceOf answer that is not one 32-byte word (not an ERC-20,
// or no contract at the address).
var ErrBadBalance = errors.New("balanceOf did not return a uint256")

// ParseBalanceOf decodes the answer of balanceOf.
func ParseBalanceOf(out []byte) (*big.Int, error) {
	if len(out) != 32 {
		return nil, fmt.Errorf("%w (%d bytes)", ErrBadBalance, len(out))
	}
	return new(big.Int).SetBytes(out), nil
}

// Gas a forwarder's part of a deployAndFlush costs, measured on the simulated backend
// (Osaka rules) and rounded up: see sweeper's TestSweepGasFigures (deploy + ETH 108,095;
// deploy + USDC 113,205; deploy + ETH + USDC 124,966; deployed + USDC 48,598, each a
// one-forwarder transaction into an existing treasury). They price the
// sweep-worthiness threshold; the transaction itself is estimated by the node.
const (
	// SweepGasBase is the fixed cost of one deployAndFlush transaction.
	SweepGasBase = 32_000
	// SweepGasDeploy is creating and initialising a forwarder (first sweep only).
	SweepGasDeploy = 66_000
	// SweepGasNative is flushing a forwarder's native balance.
	SweepGasNative = 13_000
	// SweepGasToken is flushing one token balance (balanceOf + transfer).
	SweepGasToken = 25_000
)

// ForwarderSweepGas estimates the gas one forwarder adds to a deployAndFlush: deployment
// when it has no code yet, a native flush when it holds native coin, and one token flush
// per token it holds. The per-transaction base is not included (it is shared by a batch).
func ForwarderSweepGas(deployed, native bool, tokens int) uint64 {
	var g uint64
	if !deployed {
		g += SweepGasDeploy
	}
	if native {
		g += SweepGasNative
	}
	return g + uint64(tokens)*SweepGasToken
}
