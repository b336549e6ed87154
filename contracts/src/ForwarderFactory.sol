// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Forwarder} from "./Forwarder.sol";

/// @title ForwarderFactory
/// @notice Creates per-invoice Forwarders at deterministic CREATE2 addresses and sweeps
/// them. The salt is keccak256(abi.encode(invoiceId, destination)), so an address
/// predicted for one destination can never be deployed with another: calling deploy
/// with the same invoice id and a different destination yields a different address.
/// @dev Each forwarder is an EIP-1167 minimal proxy of one Forwarder implementation,
/// created by this factory's constructor. Every function is permissionless: none of
/// them takes a recipient other than the destination the address was derived from.
contract ForwarderFactory {
    /// @notice The Forwarder every clone delegates to.
    address public immutable implementation;

    /// @notice Emitted once per forwarder created.
    event ForwarderDeployed(bytes32 indexed invoiceId, address indexed destination, address forwarder);

    error ZeroDestination();
    error DeployFailed();

    constructor() {
        implementation = address(new Forwarder());
    }

    /// @notice Returns the CREATE2 salt for an invoice id and destination.
    function salt(bytes32 invoiceId, address destination) public pure returns (bytes32) {
        return keccak256(abi.encode(invoiceId, destination));
    }

    /// @notice Returns the keccak256 of the EIP-1167 creation code of a clone of the implementation.
    function initCodeHash() public view returns (bytes32) {
        return keccak256(_cloneCreationCode());
    }

    /// @notice Returns the deposit address for an invoice id and destination, deployed or not.
    function predict(bytes32 invoiceId, address destination) public view returns (address) {
        bytes32 h = keccak256(abi.encodePacked(bytes1(0xff), address(this), salt(invoiceId, destination), initCodeHash()));
        return address(uint160(uint256(h)));
    }

    /// @notice Creates the forwarder for (invoiceId, destination) if it does not exist yet
    /// and returns its address. Idempotent: a second call returns the same address.
    function deploy(bytes32 invoiceId, address destination) public returns (address forwarder) {
        if (destination == address(0)) revert ZeroDestination();
        forwarder = predict(invoiceId, destination);
        if (forwarder.code.length != 0) {
            return forwarder;
        }
        bytes memory code = _cloneCreationCode();
        bytes32 s = salt(invoiceId, destination);
        address created;
        assembly {
            created := create2(0, add(code, 0x20), mload(code), s)
        }
        if (created == address(0) || created != forwarder) revert DeployFailed();
        Forwarder(payable(created)).init(destination);
        emit ForwarderDeployed(invoiceId, destination, created);
    }

    /// @notice For every invoice id: deploys its forwarder if needed, then flushes its ETH
    /// and each listed token to the destination, all in one transaction.
    function deployAndFlush(bytes32[] calldata invoiceIds, address destination, address[] calldata tokens) external {
        for (uint256 i = 0; i < invoiceIds.length; i++) {
            address f = deploy(invoiceIds[i], destination);
            if (f.balance > 0) {
                Forwarder(payable(f)).flush();
            }
            for (uint256 j = 0; j < tokens.length; j++) {
                Forwarder(payable(f)).flushTokens(tokens[j]);
            }
        }
    }

    /// @dev The 55-byte EIP-1167 creation code for a clone of implementation.
    function _cloneCreationCode() private view returns (bytes memory) {
        return abi.encodePacked(
            hex"3d602d80600a3d3981f3363d3d373d3d3d363d73",
            implementation,
            hex"5af43d82803e903d91602b57fd5bf3"
        );
    }
}
