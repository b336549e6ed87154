-- Commit-ordered feeds (issue 22), SQLite dialect: see the Postgres migration for the design.
-- SQLite runs one write transaction at a time, so a number taken inside the inserting
-- transaction (the largest so far plus one) orders rows by commit: a reader never sees a row
-- appear below one it has already seen. The trigger sets feed_xid = feed_seq to that number,
-- so positions compare as on Postgres and the horizon is simply the largest number plus one.
-- Rows inserted before this migration keep (0, 0), except the events not yet fanned out.
ALTER TABLE payment_options ADD COLUMN feed_xid INTEGER NOT NULL DEFAULT 0;
ALTER TABLE payment_options ADD COLUMN feed_seq INTEGER NOT NULL DEFAULT 0;
CREATE INDEX payment_options_feed ON payment_options (chain, feed_xid, feed_seq);
CREATE INDEX payment_options_feed_max ON payment_options (feed_xid);
DROP INDEX payment_options_chain_created;
CREATE TRIGGER payment_options_feed AFTER INSERT ON payment_options FOR EACH ROW
BEGIN
    UPDATE payment_options SET (feed_xid, feed_seq) =
        (SELECT n, n FROM (SELECT COALESCE(MAX(feed_xid), 0) + 1 AS n FROM payment_options))
    WHERE rowid = NEW.rowid;
END;

ALTER TABLE events ADD COLUMN feed_xid INTEGER NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN feed_seq INTEGER NOT NULL DEFAULT 0;
UPDATE events SET feed_xid = rowid, feed_seq = rowid
    WHERE NOT EXISTS (SELECT 1 FROM webhook_events w WHERE w.event_id = events.id);
CREATE INDEX events_feed ON events (feed_xid, feed_seq);
DROP INDEX events_created;
CREATE TRIGGER events_feed AFTER INSERT ON events FOR EACH ROW
BEGIN
    UPDATE events SET (feed_xid, feed_seq) =
        (SELECT n, n FROM (SELECT COALESCE(MAX(feed_xid), 0) + 1 AS n FROM events))
    WHERE rowid = NEW.rowid;
END;

ALTER TABLE webhook_cursors ADD COLUMN position_xid INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhook_cursors ADD COLUMN position_seq INTEGER NOT NULL DEFAULT 0;

CREATE INDEX invoices_status_expires ON invoices (status, expires_at);
