package ethereum

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

var (
	// ErrInvalidInvoiceID reports an invoice id that cannot name a deposit address.
	ErrInvalidInvoiceID = errors.New("invalid invoice id")
	// ErrZeroAddress reports the zero address where a real contract or account is required.
	ErrZeroAddress = errors.New("zero address")
)

// MaxInvoiceIDLen bounds the length in bytes of an invoice id hashed into a deposit address.
const MaxInvoiceIDLen = 256

// eip1167Prefix and eip1167Suffix surround the implementation address in the
// 55-byte EIP-1167 creation code, as in ForwarderFactory._cloneCreationCode.
var (
	eip1167Prefix = [...]byte{0x3d, 0x60, 0x2d, 0x80, 0x60, 0x0a, 0x3d, 0x39, 0x81, 0xf3, 0x36, 0x3d, 0x3d, 0x37, 0x3d, 0x3d, 0x3d, 0x36, 0x3d, 0x73}
	eip1167Suffix = [...]byte{0x5a, 0xf4, 0x3d, 0x82, 0x80, 0x3e, 0x90, 0x3d, 0x91, 0x60, 0x2b, 0x57, 0xfd, 0x5b, 0xf3}
)

// CloneInitCode returns the EIP-1167 creation code of a minimal proxy that
// delegates to implementation.
func CloneInitCode(implementation common.Address) []byte {
	code := make([]byte, 0, len(eip1167Prefix)+common.AddressLength+len(eip1167Suffix))
	code = append(code, eip1167Prefix[:]...)
	code = append(code, implementation.Bytes()...)
	return append(code, eip1167Suffix[:]...)
}

// CloneInitCodeHash returns keccak256(CloneInitCode(implementation)), the value
// ForwarderFactory.initCodeHash returns.
func CloneInitCodeHash(implementation common.Address) common.Hash {
	return crypto.Keccak256Hash(CloneInitCode(implementation))
}

// InvoiceKey returns the bytes32 the contracts know an invoice by:
// keccak256 of the invoice id's UTF-8 bytes. The id must be non-empty valid UTF-8
// of at most MaxInvoiceIDLen bytes.
func InvoiceKey(invoiceID string) (common.Hash, error) {
	switch {
	case invoiceID == "":
		return common.Hash{}, fmt.Errorf("%w: empty", ErrInvalidInvoiceID)
	case len(invoiceID) > MaxInvoiceIDLen:
		return common.Hash{}, fmt.Errorf("%w: %d bytes, at most %d allowed", ErrInvalidInvoiceID, len(invoiceID), MaxInvoiceIDLen)
	case !utf8.ValidString(invoiceID):
		return common.Hash{}, fmt.Errorf("%w: not valid UTF-8", ErrInvalidInvoiceID)
	}
	return crypto.Keccak256Hash([]byte(invoiceID)), nil
}

// Salt returns the CREATE2 salt keccak256(abi.encode(invoiceKey, destination)),
// as ForwarderFactory.salt computes it.
func Salt(invoiceKey common.Hash, destination common.Address) common.Hash {
	var buf [64]byte
	copy(buf[:32], invoiceKey[:])
	copy(buf[32+12:], destination[:]) // abi.encode left-pads an address to 32 bytes
	return crypto.Keccak256Hash(buf[:])
}

// Create2Address returns keccak256(0xff ++ deployer ++ salt ++ initCodeHash)[12:].
func Create2Address(deployer common.Address, salt, initCodeHash common.Hash) common.Address {
	return crypto.CreateAddress2(deployer, salt, initCodeHash[:])
}

// DepositAddress returns the deposit address of invoiceID for destination:
// the address at which factory deploys the invoice's forwarder, whose init code
// hashes to initCodeHash (see CloneInitCodeHash). It does not touch the chain.
func DepositAddress(factory, destination common.Address, invoiceID string, initCodeHash common.Hash) (common.Address, error) {
	if factory == (common.Address{}) {
		return common.Address{}, fmt.Errorf("deposit address: factory: %w", ErrZeroAddress)
	}
	if destination == (common.Address{}) {
		return common.Address{}, fmt.Errorf("deposit address: destination: %w", ErrZeroAddress)
	}
	key, err := InvoiceKey(invoiceID)
	if err != nil {
		return common.Address{}, fmt.Errorf("deposit address: %w", err)
	}
	return Create2Address(factory, Salt(key, destination), initCodeHash), nil
}

// Factory describes one deployed ForwarderFactory: its address and the address
// of its Forwarder implementation (ForwarderFactory.implementation()). A Factory
// is immutable and safe for concurrent use.
type Factory struct {
	address      common.Address
	initCodeHash common.Hash
}

// NewFactory returns a Factory for the ForwarderFactory at address whose clones
// delegate to implementation. Both must be non-zero.
func NewFactory(address, implementation common.Address) (*Factory, error) {
	if address == (common.Address{}) {
		return nil, fmt.Errorf("new factory: address: %w", ErrZeroAddress)
	}
	if implementation == (common.Address{}) {
		return nil, fmt.Errorf("new factory: implementation: %w", ErrZeroAddress)
	}
	return &Factory{address: address, initCodeHash: CloneInitCodeHash(implementation)}, nil
}

// Address returns the factory contract's address.
func (f *Factory) Address() common.Address { return f.address }

// InitCodeHash returns the hash of the clone creation code the factory deploys.
func (f *Factory) InitCodeHash() common.Hash { return f.initCodeHash }

// DepositAddress returns the deposit address of invoiceID for destination.
func (f *Factory) DepositAddress(invoiceID string, destination common.Address) (common.Address, error) {
	return DepositAddress(f.address, destination, invoiceID, f.initCodeHash)
}
