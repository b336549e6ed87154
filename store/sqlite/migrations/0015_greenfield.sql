-- Greenfield-compatible webhook endpoints (issue 27): an endpoint's format decides the body
-- and signature of its requests. '' is chainpay's own (Chainpay-Signature, the event
-- payload as frozen at fan-out); 'greenfield' is BTCPay Server's (BTCPay-Sig and a
-- Greenfield event body rendered from the same frozen payload by package greenfield).
ALTER TABLE webhook_endpoints ADD COLUMN format TEXT NOT NULL DEFAULT '';
