-- The chain followers match a block's transfers against the store (issue 22: no address
-- map in memory): the watched options at a block's addresses are read with
-- `chain = $1 AND address IN (...)` (Tx.WatchedAt), one index probe per address. The
-- unique (chain, network, contract, address) index cannot serve it: network and contract
-- stand between chain and address.
CREATE INDEX payment_options_chain_address ON payment_options (chain, address);
