-- Finality-aware confirmations (issue 26): the height of a chain's final block (the node's
-- `finalized` or `safe` tag) as of the follower's cursor, for chains whose payments settle
-- on a block tag rather than a depth. 0: not followed. Never above the cursor's height.
ALTER TABLE chain_cursors ADD COLUMN final_height INTEGER NOT NULL DEFAULT 0;
