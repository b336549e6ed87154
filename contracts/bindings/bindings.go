// Code generated via abigen V2 - DO NOT EDIT.
// This file is a generated binding and any manual changes will be lost.

package bindings

import (
	"bytes"
	"errors"
	"math/big"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// Reference imports to suppress errors if they are not otherwise used.
var (
	_ = bytes.Equal
	_ = errors.New
	_ = big.NewInt
	_ = common.Big1
	_ = types.BloomLookup
	_ = abi.ConvertType
)

// ForwarderMetaData contains all meta data concerning the Forwarder contract.
var ForwarderMetaData = bind.MetaData{
	ABI: "[{\"inputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"constructor\"},{\"inputs\":[],\"name\":\"AlreadyInitialized\",\"type\":\"error\"},{\"inputs\":[],\"name\":\"ETHTransferFailed\",\"type\":\"error\"},{\"inputs\":[],\"name\":\"NotFactory\",\"type\":\"error\"},{\"inputs\":[],\"name\":\"NotInitialized\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"token\",\"type\":\"address\"}],\"name\":\"TokenCallFailed\",\"type\":\"error\"},{\"inputs\":[],\"name\":\"ZeroDestination\",\"type\":\"error\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"token\",\"type\":\"address\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"destination\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"}],\"name\":\"FlushedToken\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"destination\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"}],\"name\":\"ForwardedETH\",\"type\":\"event\"},{\"inputs\":[],\"name\":\"destination\",\"outputs\":[{\"internalType\":\"address\",\"name\":\"\",\"type\":\"address\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"factory\",\"outputs\":[{\"internalType\":\"address\",\"name\":\"\",\"type\":\"address\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"flush\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"token\",\"type\":\"address\"}],\"name\":\"flushTokens\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"destination_\",\"type\":\"address\"}],\"name\":\"init\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"stateMutability\":\"payable\",\"type\":\"receive\"}]",
	ID:  "d3739dc6d42119d0a21b01693184f961b0",
	Bin: "0x60a0604052348015600f57600080fd5b503360805260805161066d610036600039600081816101060152610219015261066d6000f3fe60806040526004361061004e5760003560e01c806319ab453c146100635780633ef13367146100835780636b9f96ea146100a3578063b269681d146100b8578063c45a0155146100f457600080fd5b3661005e5761005c34610128565b005b600080fd5b34801561006f57600080fd5b5061005c61007e36600461059d565b61020e565b34801561008f57600080fd5b5061005c61009e36600461059d565b6102c9565b3480156100af57600080fd5b5061005c610466565b3480156100c457600080fd5b506000546100d8906001600160a01b031681565b6040516001600160a01b03909116815260200160405180910390f35b34801561010057600080fd5b506100d87f000000000000000000000000000000000000000000000000000000000000000081565b6000546001600160a01b031680610152576040516321c4e35760e21b815260040160405180910390fd5b6000816001600160a01b03168360405160006040518083038185875af1925050503d806000811461019f576040519150601f19603f3d011682016040523d82523d6000602084013e6101a4565b606091505b50509050806101c65760405163b12d13eb60e01b815260040160405180910390fd5b816001600160a01b03167f5574995451e162a5eac21d0a0ca68d8aa04e060635c6d852d51ac859f9175e498460405161020191815260200190565b60405180910390a2505050565b336001600160a01b037f0000000000000000000000000000000000000000000000000000000000000000161461025757604051631966391b60e11b815260040160405180910390fd5b6000546001600160a01b0316156102805760405162dc149f60e41b815260040160405180910390fd5b6001600160a01b0381166102a757604051637d0f1ea160e01b815260040160405180910390fd5b600080546001600160a01b0319166001600160a01b0392909216919091179055565b6000546001600160a01b0316806102f3576040516321c4e35760e21b815260040160405180910390fd5b60006102fe83610479565b90508060000361030d57505050565b604080516001600160a01b038481166024830152604480830185905283518084039091018152606490920183526020820180516001600160e01b031663a9059cbb60e01b179052915160009283929087169161036991906105cd565b6000604051808303816000865af19150503d80600081146103a6576040519150601f19603f3d011682016040523d82523d6000602084013e6103ab565b606091505b50915091508115806103e457508051158015906103e457506020815110806103e45750808060200190518101906103e291906105fc565b155b1561041257604051633fb2da6d60e21b81526001600160a01b03861660048201526024015b60405180910390fd5b836001600160a01b0316856001600160a01b03167f11dcc3f1d81c5d41c138b26fc0fbb90912dade2b630359b7facff92159c8ef748560405161045791815260200190565b60405180910390a35050505050565b4780156104765761047681610128565b50565b6000816001600160a01b03163b6000036104b157604051633fb2da6d60e21b81526001600160a01b0383166004820152602401610409565b604080513060248083019190915282518083039091018152604490910182526020810180516001600160e01b03166370a0823160e01b179052905160009182916001600160a01b03861691610505916105cd565b600060405180830381855afa9150503d8060008114610540576040519150601f19603f3d011682016040523d82523d6000602084013e610545565b606091505b5091509150811580610558575060208151105b1561058157604051633fb2da6d60e21b81526001600160a01b0385166004820152602401610409565b80806020019051810190610595919061061e565b949350505050565b6000602082840312156105af57600080fd5b81356001600160a01b03811681146105c657600080fd5b9392505050565b6000825160005b818110156105ee57602081860181015185830152016105d4565b506000920191825250919050565b60006020828403121561060e57600080fd5b815180151581146105c657600080fd5b60006020828403121561063057600080fd5b505191905056fea2646970667358221220ea4d786d84ca1ab999f5bb9ac4aa3ee80da6ae6722874e48a6a68272a285fcf264736f6c634300081c0033",
}

// Forwarder is an auto generated Go binding around an Ethereum contract.
type Forwarder struct {
	abi abi.ABI
}

// GetABI returns the ABI associated with this contract binding.
func (c *Forwarder) GetABI() abi.ABI {
	return c.abi
}

// NewForwarder creates a new instance of Forwarder.
func NewForwarder() *Forwarder {
	parsed, err := ForwarderMetaData.ParseABI()
	if err != nil {
		panic(errors.New("invalid ABI: " + err.Error()))
	}
	return &Forwarder{abi: *parsed}
}

// Instance creates a wrapper for a deployed contract instance at the given address.
// Use this to create the instance object passed to abigen v2 library functions Call, Transact, etc.
func (c *Forwarder) Instance(backend bind.ContractBackend, addr common.Address) *bind.BoundContract {
	return bind.NewBoundContract(addr, c.abi, backend, backend, backend)
}

// PackDestination is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xb269681d.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function destination() view returns(address)
func (forwarder *Forwarder) PackDestination() []byte {
	enc, err := forwarder.abi.Pack("destination")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackDestination is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xb269681d.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function destination() view returns(address)
func (forwarder *Forwarder) TryPackDestination() ([]byte, error) {
	return forwarder.abi.Pack("destination")
}

// UnpackDestination is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xb269681d.
//
// Solidity: function destination() view returns(address)
func (forwarder *Forwarder) UnpackDestination(data []byte) (common.Address, error) {
	out, err := forwarder.abi.Unpack("destination", data)
	if err != nil {
		return *new(common.Address), err
	}
	out0 := *abi.ConvertType(out[0], new(common.Address)).(*common.Address)
	return out0, nil
}

// PackFactory is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xc45a0155.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function factory() view returns(address)
func (forwarder *Forwarder) PackFactory() []byte {
	enc, err := forwarder.abi.Pack("factory")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackFactory is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xc45a0155.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function factory() view returns(address)
func (forwarder *Forwarder) TryPackFactory() ([]byte, error) {
	return forwarder.abi.Pack("factory")
}

// UnpackFactory is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xc45a0155.
//
// Solidity: function factory() view returns(address)
func (forwarder *Forwarder) UnpackFactory(data []byte) (common.Address, error) {
	out, err := forwarder.abi.Unpack("factory", data)
	if err != nil {
		return *new(common.Address), err
	}
	out0 := *abi.ConvertType(out[0], new(common.Address)).(*common.Address)
	return out0, nil
}

// PackFlush is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x6b9f96ea.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function flush() returns()
func (forwarder *Forwarder) PackFlush() []byte {
	enc, err := forwarder.abi.Pack("flush")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackFlush is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x6b9f96ea.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function flush() returns()
func (forwarder *Forwarder) TryPackFlush() ([]byte, error) {
	return forwarder.abi.Pack("flush")
}

// PackFlushTokens is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x3ef13367.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function flushTokens(address token) returns()
func (forwarder *Forwarder) PackFlushTokens(token common.Address) []byte {
	enc, err := forwarder.abi.Pack("flushTokens", token)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackFlushTokens is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x3ef13367.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function flushTokens(address token) returns()
func (forwarder *Forwarder) TryPackFlushTokens(token common.Address) ([]byte, error) {
	return forwarder.abi.Pack("flushTokens", token)
}

// PackInit is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x19ab453c.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function init(address destination_) returns()
func (forwarder *Forwarder) PackInit(destination common.Address) []byte {
	enc, err := forwarder.abi.Pack("init", destination)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackInit is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x19ab453c.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function init(address destination_) returns()
func (forwarder *Forwarder) TryPackInit(destination common.Address) ([]byte, error) {
	return forwarder.abi.Pack("init", destination)
}

// ForwarderFlushedToken represents a FlushedToken event raised by the Forwarder contract.
type ForwarderFlushedToken struct {
	Token       common.Address
	Destination common.Address
	Amount      *big.Int
	Raw         *types.Log // Blockchain specific contextual infos
}

const ForwarderFlushedTokenEventName = "FlushedToken"

// ContractEventName returns the user-defined event name.
func (ForwarderFlushedToken) ContractEventName() string {
	return ForwarderFlushedTokenEventName
}

// UnpackFlushedTokenEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event FlushedToken(address indexed token, address indexed destination, uint256 amount)
func (forwarder *Forwarder) UnpackFlushedTokenEvent(log *types.Log) (*ForwarderFlushedToken, error) {
	event := "FlushedToken"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != forwarder.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(ForwarderFlushedToken)
	if len(log.Data) > 0 {
		if err := forwarder.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range forwarder.abi.Events[event].Inputs {
		if arg.Indexed {
			indexed = append(indexed, arg)
		}
	}
	if err := abi.ParseTopics(out, indexed, log.Topics[1:]); err != nil {
		return nil, err
	}
	out.Raw = log
	return out, nil
}

// ForwarderForwardedETH represents a ForwardedETH event raised by the Forwarder contract.
type ForwarderForwardedETH struct {
	Destination common.Address
	Amount      *big.Int
	Raw         *types.Log // Blockchain specific contextual infos
}

const ForwarderForwardedETHEventName = "ForwardedETH"

// ContractEventName returns the user-defined event name.
func (ForwarderForwardedETH) ContractEventName() string {
	return ForwarderForwardedETHEventName
}

// UnpackForwardedETHEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event ForwardedETH(address indexed destination, uint256 amount)
func (forwarder *Forwarder) UnpackForwardedETHEvent(log *types.Log) (*ForwarderForwardedETH, error) {
	event := "ForwardedETH"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != forwarder.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(ForwarderForwardedETH)
	if len(log.Data) > 0 {
		if err := forwarder.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range forwarder.abi.Events[event].Inputs {
		if arg.Indexed {
			indexed = append(indexed, arg)
		}
	}
	if err := abi.ParseTopics(out, indexed, log.Topics[1:]); err != nil {
		return nil, err
	}
	out.Raw = log
	return out, nil
}

// UnpackError attempts to decode the provided error data using user-defined
// error definitions.
func (forwarder *Forwarder) UnpackError(raw []byte) (any, error) {
	if bytes.Equal(raw[:4], forwarder.abi.Errors["AlreadyInitialized"].ID.Bytes()[:4]) {
		return forwarder.UnpackAlreadyInitializedError(raw[4:])
	}
	if bytes.Equal(raw[:4], forwarder.abi.Errors["ETHTransferFailed"].ID.Bytes()[:4]) {
		return forwarder.UnpackETHTransferFailedError(raw[4:])
	}
	if bytes.Equal(raw[:4], forwarder.abi.Errors["NotFactory"].ID.Bytes()[:4]) {
		return forwarder.UnpackNotFactoryError(raw[4:])
	}
	if bytes.Equal(raw[:4], forwarder.abi.Errors["NotInitialized"].ID.Bytes()[:4]) {
		return forwarder.UnpackNotInitializedError(raw[4:])
	}
	if bytes.Equal(raw[:4], forwarder.abi.Errors["TokenCallFailed"].ID.Bytes()[:4]) {
		return forwarder.UnpackTokenCallFailedError(raw[4:])
	}
	if bytes.Equal(raw[:4], forwarder.abi.Errors["ZeroDestination"].ID.Bytes()[:4]) {
		return forwarder.UnpackZeroDestinationError(raw[4:])
	}
	return nil, errors.New("Unknown error")
}

// ForwarderAlreadyInitialized represents a AlreadyInitialized error raised by the Forwarder contract.
type ForwarderAlreadyInitialized struct {
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error AlreadyInitialized()
func ForwarderAlreadyInitializedErrorID() common.Hash {
	return common.HexToHash("0x0dc149f07762891dbcea3fe72770f3d63a1863fc54b2f084e8c59ec476996927")
}

// UnpackAlreadyInitializedError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error AlreadyInitialized()
func (forwarder *Forwarder) UnpackAlreadyInitializedError(raw []byte) (*ForwarderAlreadyInitialized, error) {
	out := new(ForwarderAlreadyInitialized)
	if err := forwarder.abi.UnpackIntoInterface(out, "AlreadyInitialized", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// ForwarderETHTransferFailed represents a ETHTransferFailed error raised by the Forwarder contract.
type ForwarderETHTransferFailed struct {
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error ETHTransferFailed()
func ForwarderETHTransferFailedErrorID() common.Hash {
	return common.HexToHash("0xb12d13ebe76e15b5fdb7bf52f0daba617b83ebcc560b0666c44fcdcd71f4362b")
}

// UnpackETHTransferFailedError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error ETHTransferFailed()
func (forwarder *Forwarder) UnpackETHTransferFailedError(raw []byte) (*ForwarderETHTransferFailed, error) {
	out := new(ForwarderETHTransferFailed)
	if err := forwarder.abi.UnpackIntoInterface(out, "ETHTransferFailed", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// ForwarderNotFactory represents a NotFactory error raised by the Forwarder contract.
type ForwarderNotFactory struct {
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error NotFactory()
func ForwarderNotFactoryErrorID() common.Hash {
	return common.HexToHash("0x32cc723614e775fc4a8386492bc9a860c12fe98d5f5f28ec17e265818645b229")
}

// UnpackNotFactoryError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error NotFactory()
func (forwarder *Forwarder) UnpackNotFactoryError(raw []byte) (*ForwarderNotFactory, error) {
	out := new(ForwarderNotFactory)
	if err := forwarder.abi.UnpackIntoInterface(out, "NotFactory", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// ForwarderNotInitialized represents a NotInitialized error raised by the Forwarder contract.
type ForwarderNotInitialized struct {
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error NotInitialized()
func ForwarderNotInitializedErrorID() common.Hash {
	return common.HexToHash("0x87138d5c8c2e77cb9f25c07b03277aad63d22f6a05255580ec55d2c21666e734")
}

// UnpackNotInitializedError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error NotInitialized()
func (forwarder *Forwarder) UnpackNotInitializedError(raw []byte) (*ForwarderNotInitialized, error) {
	out := new(ForwarderNotInitialized)
	if err := forwarder.abi.UnpackIntoInterface(out, "NotInitialized", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// ForwarderTokenCallFailed represents a TokenCallFailed error raised by the Forwarder contract.
type ForwarderTokenCallFailed struct {
	Token common.Address
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error TokenCallFailed(address token)
func ForwarderTokenCallFailedErrorID() common.Hash {
	return common.HexToHash("0xfecb69b4f00b9203b60da5ed901012a39c115c782cd06a41cb7715ca2556cd47")
}

// UnpackTokenCallFailedError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error TokenCallFailed(address token)
func (forwarder *Forwarder) UnpackTokenCallFailedError(raw []byte) (*ForwarderTokenCallFailed, error) {
	out := new(ForwarderTokenCallFailed)
	if err := forwarder.abi.UnpackIntoInterface(out, "TokenCallFailed", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// ForwarderZeroDestination represents a ZeroDestination error raised by the Forwarder contract.
type ForwarderZeroDestination struct {
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error ZeroDestination()
func ForwarderZeroDestinationErrorID() common.Hash {
	return common.HexToHash("0x7d0f1ea1e46ff932403b0b0c7d5e6ccb249a088247eba55c44e4adaf97d4f0b2")
}

// UnpackZeroDestinationError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error ZeroDestination()
func (forwarder *Forwarder) UnpackZeroDestinationError(raw []byte) (*ForwarderZeroDestination, error) {
	out := new(ForwarderZeroDestination)
	if err := forwarder.abi.UnpackIntoInterface(out, "ZeroDestination", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// ForwarderFactoryMetaData contains all meta data concerning the ForwarderFactory contract.
var ForwarderFactoryMetaData = bind.MetaData{
	ABI: "[{\"inputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"constructor\"},{\"inputs\":[],\"name\":\"DeployFailed\",\"type\":\"error\"},{\"inputs\":[],\"name\":\"ZeroDestination\",\"type\":\"error\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"bytes32\",\"name\":\"invoiceId\",\"type\":\"bytes32\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"destination\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"address\",\"name\":\"forwarder\",\"type\":\"address\"}],\"name\":\"ForwarderDeployed\",\"type\":\"event\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"invoiceId\",\"type\":\"bytes32\"},{\"internalType\":\"address\",\"name\":\"destination\",\"type\":\"address\"}],\"name\":\"deploy\",\"outputs\":[{\"internalType\":\"address\",\"name\":\"forwarder\",\"type\":\"address\"}],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32[]\",\"name\":\"invoiceIds\",\"type\":\"bytes32[]\"},{\"internalType\":\"address\",\"name\":\"destination\",\"type\":\"address\"},{\"internalType\":\"address[]\",\"name\":\"tokens\",\"type\":\"address[]\"}],\"name\":\"deployAndFlush\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"implementation\",\"outputs\":[{\"internalType\":\"address\",\"name\":\"\",\"type\":\"address\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"initCodeHash\",\"outputs\":[{\"internalType\":\"bytes32\",\"name\":\"\",\"type\":\"bytes32\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"invoiceId\",\"type\":\"bytes32\"},{\"internalType\":\"address\",\"name\":\"destination\",\"type\":\"address\"}],\"name\":\"predict\",\"outputs\":[{\"internalType\":\"address\",\"name\":\"\",\"type\":\"address\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"invoiceId\",\"type\":\"bytes32\"},{\"internalType\":\"address\",\"name\":\"destination\",\"type\":\"address\"}],\"name\":\"salt\",\"outputs\":[{\"internalType\":\"bytes32\",\"name\":\"\",\"type\":\"bytes32\"}],\"stateMutability\":\"pure\",\"type\":\"function\"}]",
	ID:  "c08c6e769cb30673bb13a9e2427407a876",
	Bin: "0x60a0604052348015600f57600080fd5b50604051601a906046565b604051809103906000f0801580156035573d6000803e3d6000fd5b506001600160a01b03166080526053565b6106a38061071183390190565b60805161069d61007460003960008181606c01526104bf015261069d6000f3fe608060405234801561001057600080fd5b50600436106100625760003560e01c80635c60da1b146100675780638600fd0b146100ab5780638c1fb931146100cc578063c4b9f746146100df578063db4c545e146100f2578063f352ee97146100fa575b600080fd5b61008e7f000000000000000000000000000000000000000000000000000000000000000081565b6040516001600160a01b0390911681526020015b60405180910390f35b6100be6100b9366004610530565b61010f565b6040519081526020016100a2565b61008e6100da366004610530565b610155565b61008e6100ed366004610530565b6102b0565b6100be61032b565b61010d6101083660046105a8565b610341565b005b600082826040516020016101369291909182526001600160a01b0316602082015260400190565b6040516020818303038152906040528051906020012090505b92915050565b60006001600160a01b03821661017e57604051637d0f1ea160e01b815260040160405180910390fd5b61018883836102b0565b9050806001600160a01b03163b60000361014f5760006101a661048e565b905060006101b4858561010f565b90506000818351602085016000f590506001600160a01b03811615806101ec5750836001600160a01b0316816001600160a01b031614155b1561020a5760405163b4f5411160e01b815260040160405180910390fd5b60405163066ad14f60e21b81526001600160a01b0386811660048301528216906319ab453c90602401600060405180830381600087803b15801561024d57600080fd5b505af1158015610261573d6000803e3d6000fd5b50506040516001600160a01b038481168252881692508891507fc0a536fc19f321e40e80c2fd0b68c819d4ad2ba802eea4a2ec327689129bb31c9060200160405180910390a350505092915050565b6000806001600160f81b0319306102c7868661010f565b6102cf61032b565b6040516001600160f81b031994909416602085015260609290921b6bffffffffffffffffffffffff191660218401526035830152605582015260750160408051808303601f190181529190528051602090910120949350505050565b600061033561048e565b80519060200120905090565b60005b848110156104865760006103708787848181106103635761036361062f565b9050602002013586610155565b90506001600160a01b03811631156103d657806001600160a01b0316636b9f96ea6040518163ffffffff1660e01b8152600401600060405180830381600087803b1580156103bd57600080fd5b505af11580156103d1573d6000803e3d6000fd5b505050505b60005b8381101561047c57816001600160a01b0316633ef133678686848181106104025761040261062f565b90506020020160208101906104179190610645565b6040516001600160e01b031960e084901b1681526001600160a01b039091166004820152602401600060405180830381600087803b15801561045857600080fd5b505af115801561046c573d6000803e3d6000fd5b5050600190920191506103d99050565b5050600101610344565b505050505050565b60408051733d602d80600a3d3981f3363d3d373d3d3d363d7360601b60208201526bffffffffffffffffffffffff197f000000000000000000000000000000000000000000000000000000000000000060601b1660348201526e5af43d82803e903d91602b57fd5bf360881b604882015281516037818303018152605790910190915290565b80356001600160a01b038116811461052b57600080fd5b919050565b6000806040838503121561054357600080fd5b8235915061055360208401610514565b90509250929050565b60008083601f84011261056e57600080fd5b50813567ffffffffffffffff81111561058657600080fd5b6020830191508360208260051b85010111156105a157600080fd5b9250929050565b6000806000806000606086880312156105c057600080fd5b853567ffffffffffffffff8111156105d757600080fd5b6105e38882890161055c565b90965094506105f6905060208701610514565b9250604086013567ffffffffffffffff81111561061257600080fd5b61061e8882890161055c565b969995985093965092949392505050565b634e487b7160e01b600052603260045260246000fd5b60006020828403121561065757600080fd5b61066082610514565b939250505056fea2646970667358221220a45436ab268c4f3f84e325f7694de00fae30cc56c8b323334967291bce61b09a64736f6c634300081c003360a0604052348015600f57600080fd5b503360805260805161066d610036600039600081816101060152610219015261066d6000f3fe60806040526004361061004e5760003560e01c806319ab453c146100635780633ef13367146100835780636b9f96ea146100a3578063b269681d146100b8578063c45a0155146100f457600080fd5b3661005e5761005c34610128565b005b600080fd5b34801561006f57600080fd5b5061005c61007e36600461059d565b61020e565b34801561008f57600080fd5b5061005c61009e36600461059d565b6102c9565b3480156100af57600080fd5b5061005c610466565b3480156100c457600080fd5b506000546100d8906001600160a01b031681565b6040516001600160a01b03909116815260200160405180910390f35b34801561010057600080fd5b506100d87f000000000000000000000000000000000000000000000000000000000000000081565b6000546001600160a01b031680610152576040516321c4e35760e21b815260040160405180910390fd5b6000816001600160a01b03168360405160006040518083038185875af1925050503d806000811461019f576040519150601f19603f3d011682016040523d82523d6000602084013e6101a4565b606091505b50509050806101c65760405163b12d13eb60e01b815260040160405180910390fd5b816001600160a01b03167f5574995451e162a5eac21d0a0ca68d8aa04e060635c6d852d51ac859f9175e498460405161020191815260200190565b60405180910390a2505050565b336001600160a01b037f0000000000000000000000000000000000000000000000000000000000000000161461025757604051631966391b60e11b815260040160405180910390fd5b6000546001600160a01b0316156102805760405162dc149f60e41b815260040160405180910390fd5b6001600160a01b0381166102a757604051637d0f1ea160e01b815260040160405180910390fd5b600080546001600160a01b0319166001600160a01b0392909216919091179055565b6000546001600160a01b0316806102f3576040516321c4e35760e21b815260040160405180910390fd5b60006102fe83610479565b90508060000361030d57505050565b604080516001600160a01b038481166024830152604480830185905283518084039091018152606490920183526020820180516001600160e01b031663a9059cbb60e01b179052915160009283929087169161036991906105cd565b6000604051808303816000865af19150503d80600081146103a6576040519150601f19603f3d011682016040523d82523d6000602084013e6103ab565b606091505b50915091508115806103e457508051158015906103e457506020815110806103e45750808060200190518101906103e291906105fc565b155b1561041257604051633fb2da6d60e21b81526001600160a01b03861660048201526024015b60405180910390fd5b836001600160a01b0316856001600160a01b03167f11dcc3f1d81c5d41c138b26fc0fbb90912dade2b630359b7facff92159c8ef748560405161045791815260200190565b60405180910390a35050505050565b4780156104765761047681610128565b50565b6000816001600160a01b03163b6000036104b157604051633fb2da6d60e21b81526001600160a01b0383166004820152602401610409565b604080513060248083019190915282518083039091018152604490910182526020810180516001600160e01b03166370a0823160e01b179052905160009182916001600160a01b03861691610505916105cd565b600060405180830381855afa9150503d8060008114610540576040519150601f19603f3d011682016040523d82523d6000602084013e610545565b606091505b5091509150811580610558575060208151105b1561058157604051633fb2da6d60e21b81526001600160a01b0385166004820152602401610409565b80806020019051810190610595919061061e565b949350505050565b6000602082840312156105af57600080fd5b81356001600160a01b03811681146105c657600080fd5b9392505050565b6000825160005b818110156105ee57602081860181015185830152016105d4565b506000920191825250919050565b60006020828403121561060e57600080fd5b815180151581146105c657600080fd5b60006020828403121561063057600080fd5b505191905056fea2646970667358221220ea4d786d84ca1ab999f5bb9ac4aa3ee80da6ae6722874e48a6a68272a285fcf264736f6c634300081c0033",
}

// ForwarderFactory is an auto generated Go binding around an Ethereum contract.
type ForwarderFactory struct {
	abi abi.ABI
}

// GetABI returns the ABI associated with this contract binding.
func (c *ForwarderFactory) GetABI() abi.ABI {
	return c.abi
}

// NewForwarderFactory creates a new instance of ForwarderFactory.
func NewForwarderFactory() *ForwarderFactory {
	parsed, err := ForwarderFactoryMetaData.ParseABI()
	if err != nil {
		panic(errors.New("invalid ABI: " + err.Error()))
	}
	return &ForwarderFactory{abi: *parsed}
}

// Instance creates a wrapper for a deployed contract instance at the given address.
// Use this to create the instance object passed to abigen v2 library functions Call, Transact, etc.
func (c *ForwarderFactory) Instance(backend bind.ContractBackend, addr common.Address) *bind.BoundContract {
	return bind.NewBoundContract(addr, c.abi, backend, backend, backend)
}

// PackDeploy is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x8c1fb931.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function deploy(bytes32 invoiceId, address destination) returns(address forwarder)
func (forwarderFactory *ForwarderFactory) PackDeploy(invoiceId [32]byte, destination common.Address) []byte {
	enc, err := forwarderFactory.abi.Pack("deploy", invoiceId, destination)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackDeploy is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x8c1fb931.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function deploy(bytes32 invoiceId, address destination) returns(address forwarder)
func (forwarderFactory *ForwarderFactory) TryPackDeploy(invoiceId [32]byte, destination common.Address) ([]byte, error) {
	return forwarderFactory.abi.Pack("deploy", invoiceId, destination)
}

// UnpackDeploy is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x8c1fb931.
//
// Solidity: function deploy(bytes32 invoiceId, address destination) returns(address forwarder)
func (forwarderFactory *ForwarderFactory) UnpackDeploy(data []byte) (common.Address, error) {
	out, err := forwarderFactory.abi.Unpack("deploy", data)
	if err != nil {
		return *new(common.Address), err
	}
	out0 := *abi.ConvertType(out[0], new(common.Address)).(*common.Address)
	return out0, nil
}

// PackDeployAndFlush is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xf352ee97.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function deployAndFlush(bytes32[] invoiceIds, address destination, address[] tokens) returns()
func (forwarderFactory *ForwarderFactory) PackDeployAndFlush(invoiceIds [][32]byte, destination common.Address, tokens []common.Address) []byte {
	enc, err := forwarderFactory.abi.Pack("deployAndFlush", invoiceIds, destination, tokens)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackDeployAndFlush is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xf352ee97.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function deployAndFlush(bytes32[] invoiceIds, address destination, address[] tokens) returns()
func (forwarderFactory *ForwarderFactory) TryPackDeployAndFlush(invoiceIds [][32]byte, destination common.Address, tokens []common.Address) ([]byte, error) {
	return forwarderFactory.abi.Pack("deployAndFlush", invoiceIds, destination, tokens)
}

// PackImplementation is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x5c60da1b.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function implementation() view returns(address)
func (forwarderFactory *ForwarderFactory) PackImplementation() []byte {
	enc, err := forwarderFactory.abi.Pack("implementation")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackImplementation is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x5c60da1b.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function implementation() view returns(address)
func (forwarderFactory *ForwarderFactory) TryPackImplementation() ([]byte, error) {
	return forwarderFactory.abi.Pack("implementation")
}

// UnpackImplementation is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x5c60da1b.
//
// Solidity: function implementation() view returns(address)
func (forwarderFactory *ForwarderFactory) UnpackImplementation(data []byte) (common.Address, error) {
	out, err := forwarderFactory.abi.Unpack("implementation", data)
	if err != nil {
		return *new(common.Address), err
	}
	out0 := *abi.ConvertType(out[0], new(common.Address)).(*common.Address)
	return out0, nil
}

// PackInitCodeHash is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xdb4c545e.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function initCodeHash() view returns(bytes32)
func (forwarderFactory *ForwarderFactory) PackInitCodeHash() []byte {
	enc, err := forwarderFactory.abi.Pack("initCodeHash")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackInitCodeHash is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xdb4c545e.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function initCodeHash() view returns(bytes32)
func (forwarderFactory *ForwarderFactory) TryPackInitCodeHash() ([]byte, error) {
	return forwarderFactory.abi.Pack("initCodeHash")
}

// UnpackInitCodeHash is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xdb4c545e.
//
// Solidity: function initCodeHash() view returns(bytes32)
func (forwarderFactory *ForwarderFactory) UnpackInitCodeHash(data []byte) ([32]byte, error) {
	out, err := forwarderFactory.abi.Unpack("initCodeHash", data)
	if err != nil {
		return *new([32]byte), err
	}
	out0 := *abi.ConvertType(out[0], new([32]byte)).(*[32]byte)
	return out0, nil
}

// PackPredict is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xc4b9f746.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function predict(bytes32 invoiceId, address destination) view returns(address)
func (forwarderFactory *ForwarderFactory) PackPredict(invoiceId [32]byte, destination common.Address) []byte {
	enc, err := forwarderFactory.abi.Pack("predict", invoiceId, destination)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackPredict is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xc4b9f746.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function predict(bytes32 invoiceId, address destination) view returns(address)
func (forwarderFactory *ForwarderFactory) TryPackPredict(invoiceId [32]byte, destination common.Address) ([]byte, error) {
	return forwarderFactory.abi.Pack("predict", invoiceId, destination)
}

// UnpackPredict is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xc4b9f746.
//
// Solidity: function predict(bytes32 invoiceId, address destination) view returns(address)
func (forwarderFactory *ForwarderFactory) UnpackPredict(data []byte) (common.Address, error) {
	out, err := forwarderFactory.abi.Unpack("predict", data)
	if err != nil {
		return *new(common.Address), err
	}
	out0 := *abi.ConvertType(out[0], new(common.Address)).(*common.Address)
	return out0, nil
}

// PackSalt is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x8600fd0b.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function salt(bytes32 invoiceId, address destination) pure returns(bytes32)
func (forwarderFactory *ForwarderFactory) PackSalt(invoiceId [32]byte, destination common.Address) []byte {
	enc, err := forwarderFactory.abi.Pack("salt", invoiceId, destination)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackSalt is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x8600fd0b.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function salt(bytes32 invoiceId, address destination) pure returns(bytes32)
func (forwarderFactory *ForwarderFactory) TryPackSalt(invoiceId [32]byte, destination common.Address) ([]byte, error) {
	return forwarderFactory.abi.Pack("salt", invoiceId, destination)
}

// UnpackSalt is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x8600fd0b.
//
// Solidity: function salt(bytes32 invoiceId, address destination) pure returns(bytes32)
func (forwarderFactory *ForwarderFactory) UnpackSalt(data []byte) ([32]byte, error) {
	out, err := forwarderFactory.abi.Unpack("salt", data)
	if err != nil {
		return *new([32]byte), err
	}
	out0 := *abi.ConvertType(out[0], new([32]byte)).(*[32]byte)
	return out0, nil
}

// ForwarderFactoryForwarderDeployed represents a ForwarderDeployed event raised by the ForwarderFactory contract.
type ForwarderFactoryForwarderDeployed struct {
	InvoiceId   [32]byte
	Destination common.Address
	Forwarder   common.Address
	Raw         *types.Log // Blockchain specific contextual infos
}

const ForwarderFactoryForwarderDeployedEventName = "ForwarderDeployed"

// ContractEventName returns the user-defined event name.
func (ForwarderFactoryForwarderDeployed) ContractEventName() string {
	return ForwarderFactoryForwarderDeployedEventName
}

// UnpackForwarderDeployedEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event ForwarderDeployed(bytes32 indexed invoiceId, address indexed destination, address forwarder)
func (forwarderFactory *ForwarderFactory) UnpackForwarderDeployedEvent(log *types.Log) (*ForwarderFactoryForwarderDeployed, error) {
	event := "ForwarderDeployed"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != forwarderFactory.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(ForwarderFactoryForwarderDeployed)
	if len(log.Data) > 0 {
		if err := forwarderFactory.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range forwarderFactory.abi.Events[event].Inputs {
		if arg.Indexed {
			indexed = append(indexed, arg)
		}
	}
	if err := abi.ParseTopics(out, indexed, log.Topics[1:]); err != nil {
		return nil, err
	}
	out.Raw = log
	return out, nil
}

// UnpackError attempts to decode the provided error data using user-defined
// error definitions.
func (forwarderFactory *ForwarderFactory) UnpackError(raw []byte) (any, error) {
	if bytes.Equal(raw[:4], forwarderFactory.abi.Errors["DeployFailed"].ID.Bytes()[:4]) {
		return forwarderFactory.UnpackDeployFailedError(raw[4:])
	}
	if bytes.Equal(raw[:4], forwarderFactory.abi.Errors["ZeroDestination"].ID.Bytes()[:4]) {
		return forwarderFactory.UnpackZeroDestinationError(raw[4:])
	}
	return nil, errors.New("Unknown error")
}

// ForwarderFactoryDeployFailed represents a DeployFailed error raised by the ForwarderFactory contract.
type ForwarderFactoryDeployFailed struct {
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error DeployFailed()
func ForwarderFactoryDeployFailedErrorID() common.Hash {
	return common.HexToHash("0xb4f541114ece88868d6339b138178a135b24a2472a7212209cc71f1837d4f72b")
}

// UnpackDeployFailedError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error DeployFailed()
func (forwarderFactory *ForwarderFactory) UnpackDeployFailedError(raw []byte) (*ForwarderFactoryDeployFailed, error) {
	out := new(ForwarderFactoryDeployFailed)
	if err := forwarderFactory.abi.UnpackIntoInterface(out, "DeployFailed", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// ForwarderFactoryZeroDestination represents a ZeroDestination error raised by the ForwarderFactory contract.
type ForwarderFactoryZeroDestination struct {
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error ZeroDestination()
func ForwarderFactoryZeroDestinationErrorID() common.Hash {
	return common.HexToHash("0x7d0f1ea1e46ff932403b0b0c7d5e6ccb249a088247eba55c44e4adaf97d4f0b2")
}

// UnpackZeroDestinationError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error ZeroDestination()
func (forwarderFactory *ForwarderFactory) UnpackZeroDestinationError(raw []byte) (*ForwarderFactoryZeroDestination, error) {
	out := new(ForwarderFactoryZeroDestination)
	if err := forwarderFactory.abi.UnpackIntoInterface(out, "ZeroDestination", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// TestStipendPayerMetaData contains all meta data concerning the TestStipendPayer contract.
var TestStipendPayerMetaData = bind.MetaData{
	ABI: "[{\"inputs\":[{\"internalType\":\"addresspayable\",\"name\":\"to\",\"type\":\"address\"}],\"name\":\"payWithCall\",\"outputs\":[],\"stateMutability\":\"payable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"addresspayable\",\"name\":\"to\",\"type\":\"address\"}],\"name\":\"payWithTransfer\",\"outputs\":[],\"stateMutability\":\"payable\",\"type\":\"function\"}]",
	ID:  "6e8597c97ce7463b5308ed8884e82d3768",
	Bin: "0x6080604052348015600f57600080fd5b5061019c8061001f6000396000f3fe6080604052600436106100295760003560e01c80636540ec531461002e578063d1446eb814610043575b600080fd5b61004161003c366004610136565b610056565b005b610041610051366004610136565b610101565b6000816001600160a01b03163460405160006040518083038185875af1925050503d80600081146100a3576040519150601f19603f3d011682016040523d82523d6000602084013e6100a8565b606091505b50509050806100fd5760405162461bcd60e51b815260206004820152601d60248201527f5465737453746970656e6450617965723a2063616c6c206661696c6564000000604482015260640160405180910390fd5b5050565b6040516001600160a01b038216903480156108fc02916000818181858888f193505050501580156100fd573d6000803e3d6000fd5b60006020828403121561014857600080fd5b81356001600160a01b038116811461015f57600080fd5b939250505056fea2646970667358221220a049402bbb6337f80ed99c39cf121c7d26de9a86d6808a12065a1531e7db763264736f6c634300081c0033",
}

// TestStipendPayer is an auto generated Go binding around an Ethereum contract.
type TestStipendPayer struct {
	abi abi.ABI
}

// GetABI returns the ABI associated with this contract binding.
func (c *TestStipendPayer) GetABI() abi.ABI {
	return c.abi
}

// NewTestStipendPayer creates a new instance of TestStipendPayer.
func NewTestStipendPayer() *TestStipendPayer {
	parsed, err := TestStipendPayerMetaData.ParseABI()
	if err != nil {
		panic(errors.New("invalid ABI: " + err.Error()))
	}
	return &TestStipendPayer{abi: *parsed}
}

// Instance creates a wrapper for a deployed contract instance at the given address.
// Use this to create the instance object passed to abigen v2 library functions Call, Transact, etc.
func (c *TestStipendPayer) Instance(backend bind.ContractBackend, addr common.Address) *bind.BoundContract {
	return bind.NewBoundContract(addr, c.abi, backend, backend, backend)
}

// PackPayWithCall is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x6540ec53.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function payWithCall(address to) payable returns()
func (testStipendPayer *TestStipendPayer) PackPayWithCall(to common.Address) []byte {
	enc, err := testStipendPayer.abi.Pack("payWithCall", to)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackPayWithCall is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x6540ec53.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function payWithCall(address to) payable returns()
func (testStipendPayer *TestStipendPayer) TryPackPayWithCall(to common.Address) ([]byte, error) {
	return testStipendPayer.abi.Pack("payWithCall", to)
}

// PackPayWithTransfer is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xd1446eb8.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function payWithTransfer(address to) payable returns()
func (testStipendPayer *TestStipendPayer) PackPayWithTransfer(to common.Address) []byte {
	enc, err := testStipendPayer.abi.Pack("payWithTransfer", to)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackPayWithTransfer is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xd1446eb8.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function payWithTransfer(address to) payable returns()
func (testStipendPayer *TestStipendPayer) TryPackPayWithTransfer(to common.Address) ([]byte, error) {
	return testStipendPayer.abi.Pack("payWithTransfer", to)
}

// TestTokenMetaData contains all meta data concerning the TestToken contract.
var TestTokenMetaData = bind.MetaData{
	ABI: "[{\"inputs\":[{\"internalType\":\"string\",\"name\":\"name_\",\"type\":\"string\"},{\"internalType\":\"string\",\"name\":\"symbol_\",\"type\":\"string\"},{\"internalType\":\"uint8\",\"name\":\"decimals_\",\"type\":\"uint8\"},{\"internalType\":\"bool\",\"name\":\"noReturnValue_\",\"type\":\"bool\"}],\"stateMutability\":\"nonpayable\",\"type\":\"constructor\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"owner\",\"type\":\"address\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"spender\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"value\",\"type\":\"uint256\"}],\"name\":\"Approval\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"from\",\"type\":\"address\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"to\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"value\",\"type\":\"uint256\"}],\"name\":\"Transfer\",\"type\":\"event\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"\",\"type\":\"address\"},{\"internalType\":\"address\",\"name\":\"\",\"type\":\"address\"}],\"name\":\"allowance\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"spender\",\"type\":\"address\"},{\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"}],\"name\":\"approve\",\"outputs\":[{\"internalType\":\"bool\",\"name\":\"\",\"type\":\"bool\"}],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"\",\"type\":\"address\"}],\"name\":\"balanceOf\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"decimals\",\"outputs\":[{\"internalType\":\"uint8\",\"name\":\"\",\"type\":\"uint8\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"to\",\"type\":\"address\"},{\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"}],\"name\":\"mint\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"name\",\"outputs\":[{\"internalType\":\"string\",\"name\":\"\",\"type\":\"string\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"noReturnValue\",\"outputs\":[{\"internalType\":\"bool\",\"name\":\"\",\"type\":\"bool\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"symbol\",\"outputs\":[{\"internalType\":\"string\",\"name\":\"\",\"type\":\"string\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"totalSupply\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"to\",\"type\":\"address\"},{\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"}],\"name\":\"transfer\",\"outputs\":[{\"internalType\":\"bool\",\"name\":\"\",\"type\":\"bool\"}],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"from\",\"type\":\"address\"},{\"internalType\":\"address\",\"name\":\"to\",\"type\":\"address\"},{\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"}],\"name\":\"transferFrom\",\"outputs\":[{\"internalType\":\"bool\",\"name\":\"\",\"type\":\"bool\"}],\"stateMutability\":\"nonpayable\",\"type\":\"function\"}]",
	ID:  "a1c7a176194a98d14bf4c0bdad8e5b9ee4",
	Bin: "0x60c060405234801561001057600080fd5b50604051610ae5380380610ae583398101604081905261002f91610117565b600061003b858261023a565b506001610048848261023a565b5060ff909116608052151560a052506102f89050565b634e487b7160e01b600052604160045260246000fd5b600082601f83011261008557600080fd5b81516001600160401b0381111561009e5761009e61005e565b604051601f8201601f19908116603f011681016001600160401b03811182821017156100cc576100cc61005e565b6040528181528382016020018510156100e457600080fd5b60005b82811015610103576020818601810151838301820152016100e7565b506000918101602001919091529392505050565b6000806000806080858703121561012d57600080fd5b84516001600160401b0381111561014357600080fd5b61014f87828801610074565b602087015190955090506001600160401b0381111561016d57600080fd5b61017987828801610074565b935050604085015160ff8116811461019057600080fd5b606086015190925080151581146101a657600080fd5b939692955090935050565b600181811c908216806101c557607f821691505b6020821081036101e557634e487b7160e01b600052602260045260246000fd5b50919050565b601f82111561023557806000526020600020601f840160051c810160208510156102125750805b601f840160051c820191505b81811015610232576000815560010161021e565b50505b505050565b81516001600160401b038111156102535761025361005e565b6102678161026184546101b1565b846101eb565b6020601f82116001811461029b57600083156102835750848201515b600019600385901b1c1916600184901b178455610232565b600084815260208120601f198516915b828110156102cb57878501518255602094850194600190920191016102ab565b50848210156102e95786840151600019600387901b60f8161c191681555b50505050600190811b01905550565b60805160a0516107c1610324600039600081816101a701526105ca0152600061011e01526107c16000f3fe608060405234801561001057600080fd5b50600436106100a95760003560e01c806340c10f191161007157806340c10f191461015257806370a082311461016757806395d89b4114610187578063a9059cbb1461018f578063c41d4788146101a2578063dd62ed3e146101c957600080fd5b806306fdde03146100ae578063095ea7b3146100cc57806318160ddd146100ef57806323b872dd14610106578063313ce56714610119575b600080fd5b6100b66101f4565b6040516100c391906105f6565b60405180910390f35b6100df6100da366004610660565b610282565b60405190151581526020016100c3565b6100f860025481565b6040519081526020016100c3565b6100df61011436600461068a565b6102ef565b6101407f000000000000000000000000000000000000000000000000000000000000000081565b60405160ff90911681526020016100c3565b610165610160366004610660565b6103b3565b005b6100f86101753660046106c7565b60036020526000908152604090205481565b6100b661043c565b6100df61019d366004610660565b610449565b6100df7f000000000000000000000000000000000000000000000000000000000000000081565b6100f86101d73660046106e2565b600460209081526000928352604080842090915290825290205481565b6000805461020190610715565b80601f016020809104026020016040519081016040528092919081815260200182805461022d90610715565b801561027a5780601f1061024f5761010080835404028352916020019161027a565b820191906000526020600020905b81548152906001019060200180831161025d57829003601f168201915b505050505081565b3360008181526004602090815260408083206001600160a01b038716808552925280832085905551919290917f8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925906102dd9086815260200190565b60405180910390a35060015b92915050565b6001600160a01b0383166000908152600460209081526040808320338452909152812054600019811461039757828110156103685760405162461bcd60e51b815260206004820152601460248201527354657374546f6b656e3a20616c6c6f77616e636560601b60448201526064015b60405180910390fd5b6103728382610765565b6001600160a01b03861660009081526004602090815260408083203384529091529020555b6103a2858585610465565b6103aa6105c6565b95945050505050565b80600260008282546103c59190610778565b90915550506001600160a01b038216600090815260036020526040812080548392906103f2908490610778565b90915550506040518181526001600160a01b038316906000907fddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef9060200160405180910390a35050565b6001805461020190610715565b6000610456338484610465565b61045e6105c6565b9392505050565b6001600160a01b0382166104bb5760405162461bcd60e51b815260206004820152601960248201527f54657374546f6b656e3a207a65726f20726563697069656e7400000000000000604482015260640161035f565b6001600160a01b0383166000908152600360205260409020548111156105185760405162461bcd60e51b815260206004820152601260248201527154657374546f6b656e3a2062616c616e636560701b604482015260640161035f565b6001600160a01b03831660009081526003602052604081208054839290610540908490610765565b90915550506001600160a01b0382166000908152600360205260408120805483929061056d908490610778565b92505081905550816001600160a01b0316836001600160a01b03167fddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef836040516105b991815260200190565b60405180910390a3505050565b60007f0000000000000000000000000000000000000000000000000000000000000000156105f057005b50600190565b602081526000825180602084015260005b818110156106245760208186018101516040868401015201610607565b506000604082850101526040601f19601f83011684010191505092915050565b80356001600160a01b038116811461065b57600080fd5b919050565b6000806040838503121561067357600080fd5b61067c83610644565b946020939093013593505050565b60008060006060848603121561069f57600080fd5b6106a884610644565b92506106b660208501610644565b929592945050506040919091013590565b6000602082840312156106d957600080fd5b61045e82610644565b600080604083850312156106f557600080fd5b6106fe83610644565b915061070c60208401610644565b90509250929050565b600181811c9082168061072957607f821691505b60208210810361074957634e487b7160e01b600052602260045260246000fd5b50919050565b634e487b7160e01b600052601160045260246000fd5b818103818111156102e9576102e961074f565b808201808211156102e9576102e961074f56fea264697066735822122044ad031aae849168cb853467ed0d7853c8c058f94bbb0e02d37242d3e355518964736f6c634300081c0033",
}

// TestToken is an auto generated Go binding around an Ethereum contract.
type TestToken struct {
	abi abi.ABI
}

// GetABI returns the ABI associated with this contract binding.
func (c *TestToken) GetABI() abi.ABI {
	return c.abi
}

// NewTestToken creates a new instance of TestToken.
func NewTestToken() *TestToken {
	parsed, err := TestTokenMetaData.ParseABI()
	if err != nil {
		panic(errors.New("invalid ABI: " + err.Error()))
	}
	return &TestToken{abi: *parsed}
}

// Instance creates a wrapper for a deployed contract instance at the given address.
// Use this to create the instance object passed to abigen v2 library functions Call, Transact, etc.
func (c *TestToken) Instance(backend bind.ContractBackend, addr common.Address) *bind.BoundContract {
	return bind.NewBoundContract(addr, c.abi, backend, backend, backend)
}

// PackConstructor is the Go binding used to pack the parameters required for
// contract deployment.
//
// Solidity: constructor(string name_, string symbol_, uint8 decimals_, bool noReturnValue_) returns()
func (testToken *TestToken) PackConstructor(name_ string, symbol_ string, decimals_ uint8, noReturnValue_ bool) []byte {
	enc, err := testToken.abi.Pack("", name_, symbol_, decimals_, noReturnValue_)
	if err != nil {
		panic(err)
	}
	return enc
}

// PackAllowance is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xdd62ed3e.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function allowance(address , address ) view returns(uint256)
func (testToken *TestToken) PackAllowance(arg0 common.Address, arg1 common.Address) []byte {
	enc, err := testToken.abi.Pack("allowance", arg0, arg1)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackAllowance is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xdd62ed3e.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function allowance(address , address ) view returns(uint256)
func (testToken *TestToken) TryPackAllowance(arg0 common.Address, arg1 common.Address) ([]byte, error) {
	return testToken.abi.Pack("allowance", arg0, arg1)
}

// UnpackAllowance is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xdd62ed3e.
//
// Solidity: function allowance(address , address ) view returns(uint256)
func (testToken *TestToken) UnpackAllowance(data []byte) (*big.Int, error) {
	out, err := testToken.abi.Unpack("allowance", data)
	if err != nil {
		return new(big.Int), err
	}
	out0 := abi.ConvertType(out[0], new(big.Int)).(*big.Int)
	return out0, nil
}

// PackApprove is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x095ea7b3.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function approve(address spender, uint256 amount) returns(bool)
func (testToken *TestToken) PackApprove(spender common.Address, amount *big.Int) []byte {
	enc, err := testToken.abi.Pack("approve", spender, amount)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackApprove is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x095ea7b3.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function approve(address spender, uint256 amount) returns(bool)
func (testToken *TestToken) TryPackApprove(spender common.Address, amount *big.Int) ([]byte, error) {
	return testToken.abi.Pack("approve", spender, amount)
}

// UnpackApprove is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x095ea7b3.
//
// Solidity: function approve(address spender, uint256 amount) returns(bool)
func (testToken *TestToken) UnpackApprove(data []byte) (bool, error) {
	out, err := testToken.abi.Unpack("approve", data)
	if err != nil {
		return *new(bool), err
	}
	out0 := *abi.ConvertType(out[0], new(bool)).(*bool)
	return out0, nil
}

// PackBalanceOf is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x70a08231.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function balanceOf(address ) view returns(uint256)
func (testToken *TestToken) PackBalanceOf(arg0 common.Address) []byte {
	enc, err := testToken.abi.Pack("balanceOf", arg0)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackBalanceOf is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x70a08231.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function balanceOf(address ) view returns(uint256)
func (testToken *TestToken) TryPackBalanceOf(arg0 common.Address) ([]byte, error) {
	return testToken.abi.Pack("balanceOf", arg0)
}

// UnpackBalanceOf is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x70a08231.
//
// Solidity: function balanceOf(address ) view returns(uint256)
func (testToken *TestToken) UnpackBalanceOf(data []byte) (*big.Int, error) {
	out, err := testToken.abi.Unpack("balanceOf", data)
	if err != nil {
		return new(big.Int), err
	}
	out0 := abi.ConvertType(out[0], new(big.Int)).(*big.Int)
	return out0, nil
}

// PackDecimals is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x313ce567.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function decimals() view returns(uint8)
func (testToken *TestToken) PackDecimals() []byte {
	enc, err := testToken.abi.Pack("decimals")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackDecimals is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x313ce567.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function decimals() view returns(uint8)
func (testToken *TestToken) TryPackDecimals() ([]byte, error) {
	return testToken.abi.Pack("decimals")
}

// UnpackDecimals is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x313ce567.
//
// Solidity: function decimals() view returns(uint8)
func (testToken *TestToken) UnpackDecimals(data []byte) (uint8, error) {
	out, err := testToken.abi.Unpack("decimals", data)
	if err != nil {
		return *new(uint8), err
	}
	out0 := *abi.ConvertType(out[0], new(uint8)).(*uint8)
	return out0, nil
}

// PackMint is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x40c10f19.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function mint(address to, uint256 amount) returns()
func (testToken *TestToken) PackMint(to common.Address, amount *big.Int) []byte {
	enc, err := testToken.abi.Pack("mint", to, amount)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackMint is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x40c10f19.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function mint(address to, uint256 amount) returns()
func (testToken *TestToken) TryPackMint(to common.Address, amount *big.Int) ([]byte, error) {
	return testToken.abi.Pack("mint", to, amount)
}

// PackName is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x06fdde03.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function name() view returns(string)
func (testToken *TestToken) PackName() []byte {
	enc, err := testToken.abi.Pack("name")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackName is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x06fdde03.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function name() view returns(string)
func (testToken *TestToken) TryPackName() ([]byte, error) {
	return testToken.abi.Pack("name")
}

// UnpackName is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x06fdde03.
//
// Solidity: function name() view returns(string)
func (testToken *TestToken) UnpackName(data []byte) (string, error) {
	out, err := testToken.abi.Unpack("name", data)
	if err != nil {
		return *new(string), err
	}
	out0 := *abi.ConvertType(out[0], new(string)).(*string)
	return out0, nil
}

// PackNoReturnValue is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xc41d4788.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function noReturnValue() view returns(bool)
func (testToken *TestToken) PackNoReturnValue() []byte {
	enc, err := testToken.abi.Pack("noReturnValue")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackNoReturnValue is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xc41d4788.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function noReturnValue() view returns(bool)
func (testToken *TestToken) TryPackNoReturnValue() ([]byte, error) {
	return testToken.abi.Pack("noReturnValue")
}

// UnpackNoReturnValue is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xc41d4788.
//
// Solidity: function noReturnValue() view returns(bool)
func (testToken *TestToken) UnpackNoReturnValue(data []byte) (bool, error) {
	out, err := testToken.abi.Unpack("noReturnValue", data)
	if err != nil {
		return *new(bool), err
	}
	out0 := *abi.ConvertType(out[0], new(bool)).(*bool)
	return out0, nil
}

// PackSymbol is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x95d89b41.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function symbol() view returns(string)
func (testToken *TestToken) PackSymbol() []byte {
	enc, err := testToken.abi.Pack("symbol")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackSymbol is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x95d89b41.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function symbol() view returns(string)
func (testToken *TestToken) TryPackSymbol() ([]byte, error) {
	return testToken.abi.Pack("symbol")
}

// UnpackSymbol is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x95d89b41.
//
// Solidity: function symbol() view returns(string)
func (testToken *TestToken) UnpackSymbol(data []byte) (string, error) {
	out, err := testToken.abi.Unpack("symbol", data)
	if err != nil {
		return *new(string), err
	}
	out0 := *abi.ConvertType(out[0], new(string)).(*string)
	return out0, nil
}

// PackTotalSupply is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x18160ddd.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function totalSupply() view returns(uint256)
func (testToken *TestToken) PackTotalSupply() []byte {
	enc, err := testToken.abi.Pack("totalSupply")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackTotalSupply is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x18160ddd.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function totalSupply() view returns(uint256)
func (testToken *TestToken) TryPackTotalSupply() ([]byte, error) {
	return testToken.abi.Pack("totalSupply")
}

// UnpackTotalSupply is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x18160ddd.
//
// Solidity: function totalSupply() view returns(uint256)
func (testToken *TestToken) UnpackTotalSupply(data []byte) (*big.Int, error) {
	out, err := testToken.abi.Unpack("totalSupply", data)
	if err != nil {
		return new(big.Int), err
	}
	out0 := abi.ConvertType(out[0], new(big.Int)).(*big.Int)
	return out0, nil
}

// PackTransfer is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xa9059cbb.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function transfer(address to, uint256 amount) returns(bool)
func (testToken *TestToken) PackTransfer(to common.Address, amount *big.Int) []byte {
	enc, err := testToken.abi.Pack("transfer", to, amount)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackTransfer is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xa9059cbb.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function transfer(address to, uint256 amount) returns(bool)
func (testToken *TestToken) TryPackTransfer(to common.Address, amount *big.Int) ([]byte, error) {
	return testToken.abi.Pack("transfer", to, amount)
}

// UnpackTransfer is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xa9059cbb.
//
// Solidity: function transfer(address to, uint256 amount) returns(bool)
func (testToken *TestToken) UnpackTransfer(data []byte) (bool, error) {
	out, err := testToken.abi.Unpack("transfer", data)
	if err != nil {
		return *new(bool), err
	}
	out0 := *abi.ConvertType(out[0], new(bool)).(*bool)
	return out0, nil
}

// PackTransferFrom is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x23b872dd.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function transferFrom(address from, address to, uint256 amount) returns(bool)
func (testToken *TestToken) PackTransferFrom(from common.Address, to common.Address, amount *big.Int) []byte {
	enc, err := testToken.abi.Pack("transferFrom", from, to, amount)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackTransferFrom is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x23b872dd.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function transferFrom(address from, address to, uint256 amount) returns(bool)
func (testToken *TestToken) TryPackTransferFrom(from common.Address, to common.Address, amount *big.Int) ([]byte, error) {
	return testToken.abi.Pack("transferFrom", from, to, amount)
}

// UnpackTransferFrom is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x23b872dd.
//
// Solidity: function transferFrom(address from, address to, uint256 amount) returns(bool)
func (testToken *TestToken) UnpackTransferFrom(data []byte) (bool, error) {
	out, err := testToken.abi.Unpack("transferFrom", data)
	if err != nil {
		return *new(bool), err
	}
	out0 := *abi.ConvertType(out[0], new(bool)).(*bool)
	return out0, nil
}

// TestTokenApproval represents a Approval event raised by the TestToken contract.
type TestTokenApproval struct {
	Owner   common.Address
	Spender common.Address
	Value   *big.Int
	Raw     *types.Log // Blockchain specific contextual infos
}

const TestTokenApprovalEventName = "Approval"

// ContractEventName returns the user-defined event name.
func (TestTokenApproval) ContractEventName() string {
	return TestTokenApprovalEventName
}

// UnpackApprovalEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event Approval(address indexed owner, address indexed spender, uint256 value)
func (testToken *TestToken) UnpackApprovalEvent(log *types.Log) (*TestTokenApproval, error) {
	event := "Approval"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != testToken.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(TestTokenApproval)
	if len(log.Data) > 0 {
		if err := testToken.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range testToken.abi.Events[event].Inputs {
		if arg.Indexed {
			indexed = append(indexed, arg)
		}
	}
	if err := abi.ParseTopics(out, indexed, log.Topics[1:]); err != nil {
		return nil, err
	}
	out.Raw = log
	return out, nil
}

// TestTokenTransfer represents a Transfer event raised by the TestToken contract.
type TestTokenTransfer struct {
	From  common.Address
	To    common.Address
	Value *big.Int
	Raw   *types.Log // Blockchain specific contextual infos
}

const TestTokenTransferEventName = "Transfer"

// ContractEventName returns the user-defined event name.
func (TestTokenTransfer) ContractEventName() string {
	return TestTokenTransferEventName
}

// UnpackTransferEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event Transfer(address indexed from, address indexed to, uint256 value)
func (testToken *TestToken) UnpackTransferEvent(log *types.Log) (*TestTokenTransfer, error) {
	event := "Transfer"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != testToken.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(TestTokenTransfer)
	if len(log.Data) > 0 {
		if err := testToken.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range testToken.abi.Events[event].Inputs {
		if arg.Indexed {
			indexed = append(indexed, arg)
		}
	}
	if err := abi.ParseTopics(out, indexed, log.Topics[1:]); err != nil {
		return nil, err
	}
	out.Raw = log
	return out, nil
}
