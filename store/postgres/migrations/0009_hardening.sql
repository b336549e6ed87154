-- Wallet permissions: keys created with the old default (every permission) keep being able to
-- manage wallets; narrower keys (a storefront's invoices:read,invoices:write) lose it.
UPDATE api_keys SET permissions = permissions || ',wallets:read,wallets:write'
    WHERE permissions = 'invoices:read,invoices:write,webhooks:manage,exports:read';

-- One extended public key or descriptor belongs to one wallet: two stores deriving the same
-- addresses would collide on every invoice. (If this fails, two wallets already share a
-- descriptor and every Bitcoin invoice of the younger one fails: delete that wallet first.)
CREATE UNIQUE INDEX wallets_descriptor ON wallets (chain, network, descriptor) WHERE descriptor <> '';
