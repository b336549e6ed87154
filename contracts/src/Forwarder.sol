// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Forwarder
/// @notice A per-invoice deposit address. Everything it holds can only ever go to
/// one destination (the merchant's treasury), fixed once when the factory creates
/// it. It has no owner and no function that takes a recipient.
/// @dev Deployed once as an implementation by ForwarderFactory; each invoice gets an
/// EIP-1167 clone of it at a CREATE2 address. The factory address is an immutable
/// in the implementation's code, so every clone shares it through DELEGATECALL.
contract Forwarder {
    /// @notice The only contract allowed to call init: the factory that created the implementation.
    address public immutable factory;

    /// @notice Where every wei and token unit this forwarder receives goes. Zero until init.
    address public destination;

    /// @notice Emitted when ETH is forwarded to the destination, on receipt or by flush.
    event ForwardedETH(address indexed destination, uint256 amount);

    /// @notice Emitted when a token balance is flushed to the destination.
    event FlushedToken(address indexed token, address indexed destination, uint256 amount);

    error NotFactory();
    error AlreadyInitialized();
    error ZeroDestination();
    error NotInitialized();
    error ETHTransferFailed();
    error TokenCallFailed(address token);

    constructor() {
        factory = msg.sender;
    }

    /// @notice Sets the destination once. Only the factory may call it, and it does so in
    /// the same transaction that creates the clone, so nobody can initialise it first.
    function init(address destination_) external {
        if (msg.sender != factory) revert NotFactory();
        if (destination != address(0)) revert AlreadyInitialized();
        if (destination_ == address(0)) revert ZeroDestination();
        destination = destination_;
    }

    /// @notice Forwards incoming ETH straight to the destination with all remaining gas,
    /// so smart-contract treasuries (multisigs) whose receive needs more than the 2300-gas
    /// stipend of transfer/send still work. A failed forward reverts the payment rather than
    /// parking it silently.
    receive() external payable {
        _sendETH(msg.value);
    }

    /// @notice Sends the whole ETH balance to the destination. Anyone may call it: the
    /// recipient is fixed, so the caller only pays gas.
    function flush() external {
        uint256 amount = address(this).balance;
        if (amount > 0) {
            _sendETH(amount);
        }
    }

    /// @notice Sends the whole balance of an ERC-20 token to the destination. Anyone may
    /// call it. Tokens that return no value from transfer (such as USDT) are accepted;
    /// a token that returns false or reverts makes the call revert.
    function flushTokens(address token) external {
        address dest = destination;
        if (dest == address(0)) revert NotInitialized();
        uint256 amount = _balanceOf(token);
        if (amount == 0) {
            return;
        }
        (bool ok, bytes memory ret) = token.call(abi.encodeWithSelector(0xa9059cbb, dest, amount));
        if (!ok || (ret.length != 0 && (ret.length < 32 || !abi.decode(ret, (bool))))) {
            revert TokenCallFailed(token);
        }
        emit FlushedToken(token, dest, amount);
    }

    function _sendETH(uint256 amount) private {
        address dest = destination;
        if (dest == address(0)) revert NotInitialized();
        (bool ok, ) = dest.call{value: amount}("");
        if (!ok) revert ETHTransferFailed();
        emit ForwardedETH(dest, amount);
    }

    function _balanceOf(address token) private view returns (uint256) {
        if (token.code.length == 0) revert TokenCallFailed(token);
        (bool ok, bytes memory ret) = token.staticcall(abi.encodeWithSelector(0x70a08231, address(this)));
        if (!ok || ret.length < 32) revert TokenCallFailed(token);
        return abi.decode(ret, (uint256));
    }
}
