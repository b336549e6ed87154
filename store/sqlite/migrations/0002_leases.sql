-- Leases elect the one replica that runs a singleton job (a chain follower) at a time.
CREATE TABLE leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    expires_at  INTEGER NOT NULL
);
