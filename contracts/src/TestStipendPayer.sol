// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title TestStipendPayer
/// @notice Test only: pays like an exchange's withdrawal contract would, either with
/// Solidity's transfer (2300-gas stipend) or with a call that forwards all gas.
contract TestStipendPayer {
    /// @notice Forwards msg.value to `to` with transfer: reverts if `to` needs more than 2300 gas.
    function payWithTransfer(address payable to) external payable {
        to.transfer(msg.value);
    }

    /// @notice Forwards msg.value to `to` with a call carrying all remaining gas.
    function payWithCall(address payable to) external payable {
        (bool ok, ) = to.call{value: msg.value}("");
        require(ok, "TestStipendPayer: call failed");
    }
}
