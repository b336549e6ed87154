-- A payment's confirmed_at is when chainpay first saw it reach the confirmations its option
-- requires (issue 27: BTCPay's InvoicePaymentSettled, chainpay's invoice.payment_confirmed).
-- It is set once, in the transaction that stores that event, and never cleared: a payment a
-- reorg takes out and the chain mines again does not confirm a second time.
ALTER TABLE payments ADD COLUMN confirmed_at TIMESTAMPTZ;
