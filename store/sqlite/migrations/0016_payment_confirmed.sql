-- A payment's confirmed_at is when chainpay first saw it reach the confirmations its option
-- requires (issue 27: BTCPay's InvoicePaymentSettled, chainpay's invoice.payment_confirmed).
-- It is set once, in the transaction that stores that event, and never cleared: a payment a
-- reorg takes out and the chain mines again does not confirm a second time.
ALTER TABLE payments ADD COLUMN confirmed_at INTEGER;
-- Payments that had reached their confirmations before this version are recorded as
-- confirmed at their last change, without an event: the event did not exist then, and a
-- merchant should not receive a burst of old confirmations on upgrade.
UPDATE payments SET confirmed_at = updated_at
WHERE status <> 'removed' AND EXISTS (
    SELECT 1 FROM payment_options o
    WHERE o.id = payments.option_id AND (o.confirmations = 0 OR (payments.status = 'confirmed' AND EXISTS (
        SELECT 1 FROM chain_cursors c
        WHERE c.chain = payments.chain AND c.height - payments.block_height + 1 >= o.confirmations))));
-- Greenfield endpoints (format 'greenfield') stored InvoicePaymentSettled nowhere before this
-- version: it was accepted and not sent. Those that receive InvoiceReceivedPayment (every
-- "everything" endpoint, and BTCPay's shop plugins, which subscribe to both) receive
-- InvoicePaymentSettled (invoice.payment_confirmed) from now on.
UPDATE webhook_endpoints SET events = events || ',invoice.payment_confirmed'
WHERE format = 'greenfield'
    AND (',' || events || ',') LIKE '%,invoice.payment_received,%'
    AND (',' || events || ',') NOT LIKE '%,invoice.payment_confirmed,%';
