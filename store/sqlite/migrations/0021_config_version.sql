-- A version of each store's configuration (issue 23; see the Postgres migration): bumped by
-- these triggers whenever the settings, a wallet (but its next_index) or the set of webhook
-- endpoints change. An invoice creation compares it with the version it was prepared at.
ALTER TABLE merchants ADD COLUMN config_version INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER merchants_config AFTER UPDATE OF settings ON merchants FOR EACH ROW
    WHEN OLD.settings IS NOT NEW.settings
BEGIN
    UPDATE merchants SET config_version = config_version + 1 WHERE id = NEW.id;
END;

CREATE TRIGGER wallets_config_insert AFTER INSERT ON wallets FOR EACH ROW
BEGIN
    UPDATE merchants SET config_version = config_version + 1 WHERE id = NEW.merchant_id;
END;

CREATE TRIGGER wallets_config_update AFTER UPDATE OF merchant_id, chain, network, descriptor, treasury, tokens
    ON wallets FOR EACH ROW
BEGIN
    UPDATE merchants SET config_version = config_version + 1 WHERE id IN (OLD.merchant_id, NEW.merchant_id);
END;

CREATE TRIGGER wallets_config_delete AFTER DELETE ON wallets FOR EACH ROW
BEGIN
    UPDATE merchants SET config_version = config_version + 1 WHERE id = OLD.merchant_id;
END;

CREATE TRIGGER webhook_endpoints_config_insert AFTER INSERT ON webhook_endpoints FOR EACH ROW
BEGIN
    UPDATE merchants SET config_version = config_version + 1 WHERE id = NEW.merchant_id;
END;

CREATE TRIGGER webhook_endpoints_config_update AFTER UPDATE OF merchant_id ON webhook_endpoints FOR EACH ROW
BEGIN
    UPDATE merchants SET config_version = config_version + 1 WHERE id IN (OLD.merchant_id, NEW.merchant_id);
END;

CREATE TRIGGER webhook_endpoints_config_delete AFTER DELETE ON webhook_endpoints FOR EACH ROW
BEGIN
    UPDATE merchants SET config_version = config_version + 1 WHERE id = OLD.merchant_id;
END;
