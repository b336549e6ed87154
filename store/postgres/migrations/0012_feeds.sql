-- Commit-ordered feeds (issue 22): the chain followers learn about new deposit addresses, and
-- the webhook dispatcher about new events, by position in a feed instead of by a look-back
-- window on created_at (stamped by an API replica's clock before its transaction commits).
--
-- A row's feed position is (feed_xid, feed_seq): the id of the transaction that inserted it
-- (pg_current_xact_id(), as a bigint) and a number from a shared sequence. A reader takes
-- pg_snapshot_xmin(pg_current_snapshot()) as the horizon: every transaction with an id below
-- it has committed or rolled back, so no row can appear later at a position below
-- (horizon, 0). A consumer reads every visible row after its cursor, but moves its cursor only
-- past the rows below the horizon; rows above it are read again until the horizon passes them
-- (see store.FeedPos). Rows inserted before this migration keep (0, 0): the followers load
-- them with the initial watch list, and the events not yet fanned out get a sequence number
-- below, so the dispatcher, starting at (0, 0), still delivers them.
CREATE SEQUENCE feed_seq;

ALTER TABLE payment_options ADD COLUMN feed_xid BIGINT NOT NULL DEFAULT 0;
ALTER TABLE payment_options ADD COLUMN feed_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE payment_options ALTER COLUMN feed_xid SET DEFAULT pg_current_xact_id()::text::bigint;
ALTER TABLE payment_options ALTER COLUMN feed_seq SET DEFAULT nextval('feed_seq');
CREATE INDEX payment_options_feed ON payment_options (chain, feed_xid, feed_seq);
-- WatchedOptions (new options by creation time) is gone with its look-back window.
DROP INDEX payment_options_chain_created;

ALTER TABLE events ADD COLUMN feed_xid BIGINT NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN feed_seq BIGINT NOT NULL DEFAULT 0;
UPDATE events SET feed_seq = nextval('feed_seq')
    WHERE NOT EXISTS (SELECT 1 FROM webhook_events w WHERE w.event_id = events.id);
ALTER TABLE events ALTER COLUMN feed_xid SET DEFAULT pg_current_xact_id()::text::bigint;
ALTER TABLE events ALTER COLUMN feed_seq SET DEFAULT nextval('feed_seq');
CREATE INDEX events_feed ON events (feed_xid, feed_seq);
DROP INDEX events_created;

-- The dispatcher's cursor is a feed position (position_at is kept as the time it last moved).
ALTER TABLE webhook_cursors ADD COLUMN position_xid BIGINT NOT NULL DEFAULT 0;
ALTER TABLE webhook_cursors ADD COLUMN position_seq BIGINT NOT NULL DEFAULT 0;

-- Reviews by what is due: new invoices whose expiry the chain time reached (processing ones
-- whose monitoring ended use invoices_open (status, monitor_until)).
CREATE INDEX invoices_status_expires ON invoices (status, expires_at);
