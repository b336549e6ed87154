package export

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chainpay/chainpay/ledger"
	"github.com/chainpay/chainpay/money"
	"github.com/chainpay/chainpay/store"
)

// Column indexes of the canonical export, in order. docs/exports.md describes each.
const (
	ColRecordID = iota
	ColIdempotencyKey
	ColStoreID
	ColReportingCategory
	ColSourceType
	ColSourceID
	ColStatus
	ColExceptionFlags
	ColReverses
	ColReason
	ColDescription
	ColInvoiceID
	ColOrderID
	ColPaymentID
	ColChain
	ColNetwork
	ColAsset
	ColAssetContract
	ColAssetDecimals
	ColTxID
	ColOutputIndex
	ColDepositAddress
	ColBlockHeight
	ColBlockHash
	ColBlockTime
	ColConfirmations
	ColSettledAt
	ColCryptoAmount
	ColCryptoAmountAtomic
	ColExchangeRate
	ColExchangeRateSource
	ColExchangeRateAt
	ColCurrency
	ColGross
	ColFee
	ColNet
	ColFairValueRate
	ColFairValueSource
	ColFairValueAt
	ColFairValueAmount
	ColPayloadSHA256
	ColCreatedAt
	numCols
)

var columns = [numCols]string{
	"record_id", "idempotency_key", "store_id", "reporting_category", "source_type", "source_id", "status",
	"exception_flags", "reverses", "reason", "description", "invoice_id", "order_id", "payment_id", "chain", "network",
	"asset", "asset_contract", "asset_decimals", "txid", "output_index", "deposit_address", "block_height",
	"block_hash", "block_time", "confirmations", "settled_at", "crypto_amount", "crypto_amount_atomic",
	"exchange_rate", "exchange_rate_source", "exchange_rate_at", "currency", "gross", "fee", "net",
	"fair_value_rate", "fair_value_source", "fair_value_at", "fair_value_amount", "payload_sha256", "created_at",
}

// numericCols are the amount columns: a cell there that is a plain decimal number is left
// as it is by the CSV injection guard (negative amounts stay numbers).
var numericCols = [numCols]bool{
	ColAssetDecimals: true, ColOutputIndex: true, ColBlockHeight: true, ColConfirmations: true,
	ColCryptoAmount: true, ColCryptoAmountAtomic: true, ColExchangeRate: true, ColGross: true, ColFee: true,
	ColNet: true, ColFairValueRate: true, ColFairValueAmount: true,
}

// Columns returns the canonical column names, in order (the CSV header and the JSON keys).
func Columns() []string { return slices.Clone(columns[:]) }

// Statuses of a canonical row.
const (
	StatusSettled  = "settled"  // money moved in (or out, for a card refund) and stays
	StatusReversal = "reversal" // the row undoes the record named in reverses
	// StatusUnapplied marks an unapplied receipt: money that reached the merchant on an
	// invoice that does not accept it, held in suspense (not revenue) until applied or
	// refunded; reason says why.
	StatusUnapplied = "unapplied"
)

// TimeFormat is how the canonical export writes times: RFC 3339, UTC, microseconds.
const TimeFormat = "2006-01-02T15:04:05.000000Z"

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.Truncate(time.Microsecond).Format(TimeFormat)
	}
	// TimeFormat's fixed-width digits written directly (Format walks the layout: a fifth of
	// an export row's formatting). FuzzFmtTime compares the two.
	hour, minute, sec := t.Clock()
	var b [len(TimeFormat)]byte
	put := func(at, width, v int) {
		for i := at + width - 1; i >= at; i-- {
			b[i] = byte('0' + v%10)
			v /= 10
		}
	}
	put(0, 4, year)
	b[4] = '-'
	put(5, 2, int(month))
	b[7] = '-'
	put(8, 2, day)
	b[10] = 'T'
	put(11, 2, hour)
	b[13] = ':'
	put(14, 2, minute)
	b[16] = ':'
	put(17, 2, sec)
	b[19] = '.'
	put(20, 6, t.Nanosecond()/1000)
	b[26] = 'Z'
	return string(b[:])
}

// Row is one canonical export row: the values of Columns, in order, as text.
type Row struct {
	Values [numCols]string

	// What the accounting formats need besides the text.
	rec  ledger.Record
	cur  money.Asset // settlement currency (its scale formats gross, fee and net)
	orig money.Asset // the crypto asset; zero for card rows
}

// Get returns the value of the named column ("" for an unknown name).
func (r *Row) Get(name string) string {
	if i := slices.Index(columns[:], name); i >= 0 {
		return r.Values[i]
	}
	return ""
}

// Record returns the ledger record the row was built from.
func (r *Row) Record() ledger.Record { return r.rec }

// buildRow decodes a journal row into its export row. The stored payload must hash to the
// stored payload hash and decode to a valid record; anything else is an error naming the
// record, never a silently wrong row.
//
// The database may have done the hash check itself (store.LedgerRecord.PayloadChecked),
// sending no payload for a record with a projection; a projection this version cannot read
// then fails with errNeedPayload, and the caller reads the record whole.
func buildRow(l store.LedgerRecord) (Row, error) {
	var sum [sha256.Size]byte
	if l.PayloadChecked {
		if !l.PayloadOK || len(l.PayloadHash) != sha256.Size {
			return Row{}, fmt.Errorf("export: record %s (%s): stored payload does not match its sha256 %x", l.ID, l.IdempotencyKey, l.PayloadHash)
		}
		copy(sum[:], l.PayloadHash)
	} else if sum = sha256.Sum256([]byte(l.Payload)); !bytes.Equal(sum[:], l.PayloadHash) {
		return Row{}, fmt.Errorf("export: record %s (%s): stored payload does not match its sha256 %x", l.ID, l.IdempotencyKey, l.PayloadHash)
	}
	hexSum := hex.EncodeToString(sum[:])
	rec, err := decodeRecord(l, hexSum)
	if err != nil {
		return Row{}, fmt.Errorf("export: record %s (%s): %w", l.ID, l.IdempotencyKey, err)
	}
	if rec.IdempotencyKey != l.IdempotencyKey || rec.MerchantID != l.MerchantID {
		return Row{}, fmt.Errorf("export: record %s: payload key %q / merchant %q differ from the journal's %q / %q",
			l.ID, clip(rec.IdempotencyKey), clip(rec.MerchantID), l.IdempotencyKey, l.MerchantID)
	}
	r := Row{rec: rec}
	if c, ok := money.Currency(rec.Currency); ok {
		r.cur = c
	}
	if o := rec.Original; o != nil {
		a, err := money.ParseAsset(o.Asset)
		if err != nil { // ParseRecord validated it
			return Row{}, fmt.Errorf("export: record %s: %w", l.ID, err)
		}
		r.orig = a
		if r.cur.Code == "" && a.Code == rec.Currency {
			r.cur = a // an invoice priced in the crypto asset itself
		}
	}
	v := &r.Values
	v[ColRecordID] = l.ID
	v[ColIdempotencyKey] = rec.IdempotencyKey
	v[ColStoreID] = rec.MerchantID
	v[ColReportingCategory] = rec.ReportingCategory
	v[ColSourceType] = rec.SourceType
	v[ColSourceID] = rec.SourceID
	v[ColStatus] = StatusSettled
	switch {
	case rec.Reverses != "":
		v[ColStatus] = StatusReversal
	case rec.ReportingCategory == ledger.CategoryUnappliedReceipt:
		v[ColStatus] = StatusUnapplied
	}
	v[ColReason] = rec.Metadata["unapplied_reason"]
	if r := rec.Metadata["reversal_reason"]; r != "" || rec.Reverses != "" {
		v[ColReason] = r
	}
	v[ColExceptionFlags] = exceptionFlags(rec)
	v[ColReverses] = rec.Reverses
	v[ColDescription] = rec.Description
	md := rec.Metadata
	v[ColInvoiceID] = md["invoice_id"]
	v[ColOrderID] = md["order_id"]
	if rec.SourceType == ledger.SourceCryptoPayment {
		v[ColPaymentID] = rec.SourceID
	}
	v[ColNetwork] = md["network"]
	v[ColDepositAddress] = md["address"]
	v[ColBlockTime] = md["block_time"]
	if o := rec.Original; o != nil {
		v[ColChain] = r.orig.Chain
		v[ColAsset] = r.orig.Code
		v[ColAssetContract] = r.orig.Contract
		v[ColAssetDecimals] = strconv.Itoa(int(o.Scale))
		v[ColCryptoAmount] = money.FormatAmount(o.Amount, o.Scale)
		v[ColCryptoAmountAtomic] = o.Amount.String()
	}
	if c := rec.Chain; c != nil {
		v[ColChain] = c.Chain
		v[ColTxID] = c.TxID
		v[ColOutputIndex] = strconv.FormatInt(c.OutputIndex, 10)
		v[ColBlockHeight] = strconv.FormatInt(c.BlockHeight, 10)
		v[ColBlockHash] = c.BlockHash
		v[ColConfirmations] = strconv.FormatInt(c.Confirmations, 10)
	}
	v[ColSettledAt] = fmtTime(rec.OccurredAt)
	if x := rec.ExchangeRate; x != nil {
		v[ColExchangeRate] = x.Rate
		v[ColExchangeRateSource] = x.Source
		v[ColExchangeRateAt] = fmtTime(x.At)
	}
	v[ColCurrency] = rec.Currency
	v[ColGross] = money.FormatAmount(rec.Gross, r.cur.Scale)
	v[ColFee] = money.FormatAmount(rec.Fee, r.cur.Scale)
	v[ColNet] = money.FormatAmount(rec.Net, r.cur.Scale)
	if f := rec.FairValue; f != nil {
		v[ColFairValueRate] = f.Rate
		v[ColFairValueSource] = f.Source
		v[ColFairValueAt] = fmtTime(f.At)
		v[ColFairValueAmount] = money.FormatAmount(f.Amount, r.cur.Scale)
	}
	v[ColPayloadSHA256] = hexSum // = the stored hash, checked above
	v[ColCreatedAt] = fmtTime(l.CreatedAt)
	return r, nil
}

// decodeRecord returns the journal row's record: from its flat projection when it has one
// made from this very payload (it names the payload's hash, which the caller has checked),
// without re-parsing the JSON; else (rows stored before projections, or a projection of
// another version) from the payload.
func decodeRecord(l store.LedgerRecord, payloadHash string) (ledger.Record, error) {
	if l.Projection != "" {
		rec, named, err := ledger.ParseFlat(l.Projection)
		if err == nil {
			if named != payloadHash {
				return ledger.Record{}, fmt.Errorf("projection names payload sha256 %s, the payload's is %s", clip(named), payloadHash)
			}
			return rec, nil
		}
		if !errors.Is(err, ledger.ErrFlat) {
			return ledger.Record{}, err
		}
		if l.PayloadChecked && l.Payload == "" {
			return ledger.Record{}, errNeedPayload
		}
	}
	return ledger.ParseRecord([]byte(l.Payload))
}

// errNeedPayload means a record's projection could not be decoded and its payload was not
// read (store.LedgerRecord.PayloadChecked): read the whole record.
var errNeedPayload = errors.New("the projection is unreadable and the payload was not read")

// exceptionFlags lists the record's exception flags, ';'-separated and sorted: those the
// record carries in metadata exception_flags (separated by ',', ';' or spaces), and reorged
// for the reversal of a crypto payment unless its metadata reversal_reason says otherwise (a
// merchant resolving a settled invoice to invalid).
func exceptionFlags(rec ledger.Record) string {
	flags := strings.FieldsFunc(rec.Metadata["exception_flags"], func(c rune) bool {
		return c == ',' || c == ';' || c == ' '
	})
	if rec.Reverses != "" && rec.SourceType == ledger.SourceCryptoPayment && !slices.Contains(flags, "reorged") &&
		(rec.Metadata["reversal_reason"] == "" || rec.Metadata["reversal_reason"] == "reorg") {
		flags = append(flags, "reorged")
	}
	slices.Sort(flags)
	return strings.Join(slices.Compact(flags), ";")
}
