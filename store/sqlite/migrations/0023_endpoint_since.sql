-- Which events a webhook endpoint receives (issue 22), SQLite dialect: see the Postgres
-- migration. Writers run one at a time, so the endpoint's position is the event feed's
-- horizon when it is inserted (the largest events.feed_xid plus one): every later event is at
-- or after it. Endpoints created before this migration get 0.
ALTER TABLE webhook_endpoints ADD COLUMN since_xid INTEGER NOT NULL DEFAULT 0;
CREATE TRIGGER webhook_endpoints_since AFTER INSERT ON webhook_endpoints FOR EACH ROW
BEGIN
    UPDATE webhook_endpoints SET since_xid = (SELECT COALESCE(MAX(feed_xid), 0) + 1 FROM events)
    WHERE rowid = NEW.rowid;
END;
