-- A version of each store's configuration (issue 23): everything an invoice is prepared
-- from outside its transaction (settings, wallets, whether a webhook endpoint exists). The
-- triggers bump it whenever any of those change, by whatever process or by hand; an invoice
-- creation sends merchant_config_guard with its other writes, and the transaction fails
-- with SQLSTATE CP001 when the version it was prepared at is no longer the store's.
-- (A wallet's next_index is not configuration: allocating addresses does not bump it.)
ALTER TABLE merchants ADD COLUMN config_version BIGINT NOT NULL DEFAULT 0;

-- The trigger functions keep the schema they were created in (SET search_path FROM
-- CURRENT), so that a change made by hand under another search_path bumps the right row.
CREATE FUNCTION merchant_settings_changed() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    NEW.config_version := OLD.config_version + 1;
    RETURN NEW;
END
$$;

CREATE TRIGGER merchants_config BEFORE UPDATE OF settings ON merchants FOR EACH ROW
    WHEN (OLD.settings IS DISTINCT FROM NEW.settings) EXECUTE FUNCTION merchant_settings_changed();

CREATE FUNCTION merchant_config_changed() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE merchants SET config_version = config_version + 1 WHERE id = OLD.merchant_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE merchants SET config_version = config_version + 1 WHERE id = NEW.merchant_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER wallets_config AFTER INSERT OR DELETE OR UPDATE OF merchant_id, chain, network, descriptor, treasury, tokens
    ON wallets FOR EACH ROW EXECUTE FUNCTION merchant_config_changed();

CREATE TRIGGER webhook_endpoints_config AFTER INSERT OR DELETE OR UPDATE OF merchant_id
    ON webhook_endpoints FOR EACH ROW EXECUTE FUNCTION merchant_config_changed();

CREATE FUNCTION merchant_config_guard(merchant TEXT, version BIGINT) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM merchants WHERE id = merchant AND config_version = version) THEN
        RAISE EXCEPTION 'the store''s settings, wallets or webhook endpoints changed' USING ERRCODE = 'CP001';
    END IF;
END
$$;
