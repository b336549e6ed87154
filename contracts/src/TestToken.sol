// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title TestToken
/// @notice A minimal ERC-20 for tests only: anyone can mint. decimals is set at
/// construction; with noReturnValue set, transfer and transferFrom return no data,
/// like USDT on Ethereum mainnet.
contract TestToken {
    string public name;
    string public symbol;
    uint8 public immutable decimals;
    bool public immutable noReturnValue;
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    constructor(string memory name_, string memory symbol_, uint8 decimals_, bool noReturnValue_) {
        name = name_;
        symbol = symbol_;
        decimals = decimals_;
        noReturnValue = noReturnValue_;
    }

    /// @notice Creates amount tokens for to. Test only: there is no access control.
    function mint(address to, uint256 amount) external {
        totalSupply += amount;
        balanceOf[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        _transfer(msg.sender, to, amount);
        return _ok();
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        if (allowed != type(uint256).max) {
            require(allowed >= amount, "TestToken: allowance");
            allowance[from][msg.sender] = allowed - amount;
        }
        _transfer(from, to, amount);
        return _ok();
    }

    function _transfer(address from, address to, uint256 amount) private {
        require(to != address(0), "TestToken: zero recipient");
        require(balanceOf[from] >= amount, "TestToken: balance");
        balanceOf[from] -= amount;
        balanceOf[to] += amount;
        emit Transfer(from, to, amount);
    }

    function _ok() private view returns (bool) {
        if (noReturnValue) {
            assembly {
                return(0, 0)
            }
        }
        return true;
    }
}
