package ethereum_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/chainpay/chainpay/chains/ethereum"
)

// TestCreate2AddressEIP1014 checks the examples given in EIP-1014.
func TestCreate2AddressEIP1014(t *testing.T) {
	t.Parallel()
	tests := []struct {
		deployer, salt, initCode, want string
	}{
		{"0x0000000000000000000000000000000000000000", "0x0000000000000000000000000000000000000000000000000000000000000000", "0x00", "0x4D1A2e2bB4F88F0250f26Ffff098B0b30B26BF38"},
		{"0xdeadbeef00000000000000000000000000000000", "0x0000000000000000000000000000000000000000000000000000000000000000", "0x00", "0xB928f69Bb1D91Cd65274e3c79d8986362984fDA3"},
		{"0xdeadbeef00000000000000000000000000000000", "0x000000000000000000000000feed000000000000000000000000000000000000", "0x00", "0xD04116cDd17beBE565EB2422F2497E06cC1C9833"},
		{"0x0000000000000000000000000000000000000000", "0x0000000000000000000000000000000000000000000000000000000000000000", "0xdeadbeef", "0x70f2b2914A2a4b783FaEFb75f459A580616Fcb5e"},
		{"0x00000000000000000000000000000000deadbeef", "0x00000000000000000000000000000000000000000000000000000000cafebabe", "0xdeadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeef", "0x1d8bfDC5D46DC4f61D6b6115972536eBE6A8854C"},
		{"0x0000000000000000000000000000000000000000", "0x0000000000000000000000000000000000000000000000000000000000000000", "0x", "0xE33C0C7F7df4809055C3ebA6c09CFe4BaF1BD9e0"},
	}
	for _, tt := range tests {
		got := ethereum.Create2Address(common.HexToAddress(tt.deployer), common.HexToHash(tt.salt), crypto.Keccak256Hash(common.FromHex(tt.initCode)))
		if got.Hex() != tt.want {
			t.Errorf("Create2Address(%s, %s, keccak(%s)) = %s, want %s", tt.deployer, tt.salt, tt.initCode, got.Hex(), tt.want)
		}
	}
}

func TestCloneInitCode(t *testing.T) {
	t.Parallel()
	impl := common.HexToAddress("0xbebebebebebebebebebebebebebebebebebebebe")
	code := ethereum.CloneInitCode(impl)
	// EIP-1167's reference creation code with the implementation at bytes 20..40.
	want := common.FromHex("0x3d602d80600a3d3981f3363d3d373d3d3d363d73bebebebebebebebebebebebebebebebebebebebe5af43d82803e903d91602b57fd5bf3")
	if !bytes.Equal(code, want) {
		t.Fatalf("CloneInitCode = %x, want %x", code, want)
	}
	if ethereum.CloneInitCodeHash(impl) != crypto.Keccak256Hash(want) {
		t.Fatal("CloneInitCodeHash is not keccak256 of CloneInitCode")
	}
}

func TestSaltIsABIEncoded(t *testing.T) {
	t.Parallel()
	key := crypto.Keccak256Hash([]byte("inv_1"))
	dest := common.HexToAddress("0x00000000000000000000000000000000000000aa")
	enc := append(append([]byte{}, key[:]...), common.LeftPadBytes(dest[:], 32)...)
	if got, want := ethereum.Salt(key, dest), crypto.Keccak256Hash(enc); got != want {
		t.Fatalf("Salt = %x, want keccak256(abi.encode(key, dest)) = %x", got, want)
	}
}

func TestDepositAddress(t *testing.T) {
	t.Parallel()
	factory := common.HexToAddress("0x1111111111111111111111111111111111111111")
	impl := common.HexToAddress("0x2222222222222222222222222222222222222222")
	treasury := common.HexToAddress("0x3333333333333333333333333333333333333333")
	other := common.HexToAddress("0x4444444444444444444444444444444444444444")
	f, err := ethereum.NewFactory(factory, impl)
	if err != nil {
		t.Fatal(err)
	}
	a1, err := f.DepositAddress("inv_1", treasury)
	if err != nil {
		t.Fatal(err)
	}
	// Same as the free function and as the formula spelled out by hand.
	a1b, err := ethereum.DepositAddress(factory, treasury, "inv_1", ethereum.CloneInitCodeHash(impl))
	if err != nil || a1b != a1 {
		t.Fatalf("DepositAddress = %s, %v; Factory.DepositAddress = %s", a1b, err, a1)
	}
	salt := ethereum.Salt(crypto.Keccak256Hash([]byte("inv_1")), treasury)
	manual := crypto.Keccak256(append(append(append([]byte{0xff}, factory[:]...), salt[:]...), crypto.Keccak256(ethereum.CloneInitCode(impl))...))
	if common.BytesToAddress(manual[12:]) != a1 {
		t.Fatalf("DepositAddress %s differs from the hand-computed CREATE2 address %x", a1, manual[12:])
	}
	for name, fn := range map[string]func() (common.Address, error){
		"other invoice":     func() (common.Address, error) { return f.DepositAddress("inv_2", treasury) },
		"other destination": func() (common.Address, error) { return f.DepositAddress("inv_1", other) },
		"other factory": func() (common.Address, error) {
			return ethereum.DepositAddress(other, treasury, "inv_1", f.InitCodeHash())
		},
		"other implementation": func() (common.Address, error) {
			return ethereum.DepositAddress(factory, treasury, "inv_1", ethereum.CloneInitCodeHash(other))
		},
		"id case differs": func() (common.Address, error) { return f.DepositAddress("INV_1", treasury) },
	} {
		a, err := fn()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if a == a1 {
			t.Errorf("%s gives the same address %s", name, a)
		}
	}

	bad := []struct {
		name    string
		factory common.Address
		dest    common.Address
		id      string
		err     error
	}{
		{"zero factory", common.Address{}, treasury, "inv_1", ethereum.ErrZeroAddress},
		{"zero destination", factory, common.Address{}, "inv_1", ethereum.ErrZeroAddress},
		{"empty id", factory, treasury, "", ethereum.ErrInvalidInvoiceID},
		{"id too long", factory, treasury, strings.Repeat("a", ethereum.MaxInvoiceIDLen+1), ethereum.ErrInvalidInvoiceID},
		{"id not UTF-8", factory, treasury, "inv_\xff", ethereum.ErrInvalidInvoiceID},
	}
	for _, tt := range bad {
		if _, err := ethereum.DepositAddress(tt.factory, tt.dest, tt.id, f.InitCodeHash()); !errors.Is(err, tt.err) {
			t.Errorf("%s: error %v, want %v", tt.name, err, tt.err)
		}
	}
	if _, err := ethereum.NewFactory(common.Address{}, impl); !errors.Is(err, ethereum.ErrZeroAddress) {
		t.Errorf("NewFactory(zero factory) error %v", err)
	}
	if _, err := ethereum.NewFactory(factory, common.Address{}); !errors.Is(err, ethereum.ErrZeroAddress) {
		t.Errorf("NewFactory(zero implementation) error %v", err)
	}
}

func TestDeployAndFlushCalldata(t *testing.T) {
	t.Parallel()
	dest := common.HexToAddress("0x3333333333333333333333333333333333333333")
	tok := common.HexToAddress("0x5555555555555555555555555555555555555555")
	data, err := ethereum.DeployAndFlushCalldata([]string{"inv_1", "inv_2"}, dest, []common.Address{tok})
	if err != nil {
		t.Fatal(err)
	}
	sel := crypto.Keccak256([]byte("deployAndFlush(bytes32[],address,address[])"))[:4]
	if !bytes.Equal(data[:4], sel) {
		t.Fatalf("selector %x, want %x", data[:4], sel)
	}
	k1 := crypto.Keccak256([]byte("inv_1"))
	if !bytes.Contains(data, k1) || !bytes.Contains(data, common.LeftPadBytes(dest[:], 32)) || !bytes.Contains(data, common.LeftPadBytes(tok[:], 32)) {
		t.Fatal("calldata lacks the invoice key, destination or token")
	}
	bad := []struct {
		name   string
		ids    []string
		dest   common.Address
		tokens []common.Address
		err    error
	}{
		{"no invoices", nil, dest, nil, ethereum.ErrEmptyBatch},
		{"zero destination", []string{"inv_1"}, common.Address{}, nil, ethereum.ErrZeroAddress},
		{"empty id", []string{"inv_1", ""}, dest, nil, ethereum.ErrInvalidInvoiceID},
		{"duplicate id", []string{"inv_1", "inv_1"}, dest, nil, ethereum.ErrInvalidInvoiceID},
		{"zero token", []string{"inv_1"}, dest, []common.Address{{}}, ethereum.ErrZeroAddress},
	}
	for _, tt := range bad {
		if _, err := ethereum.DeployAndFlushCalldata(tt.ids, tt.dest, tt.tokens); !errors.Is(err, tt.err) {
			t.Errorf("%s: error %v, want %v", tt.name, err, tt.err)
		}
	}
	if _, err := ethereum.DeployAndFlushCalldata([]string{"inv_1"}, dest, []common.Address{tok, tok}); err == nil {
		t.Error("duplicate token accepted")
	}
}
