package sqldb

import (
	"fmt"
	"math/big"
	"strings"
	"time"
)

// Arg converts the values chainpay passes into ones both drivers accept: times become UTC
// with microsecond precision (what Postgres stores), big integers decimal strings, string
// slices comma-joined text. Drivers call it on every argument.
func Arg(v any) any {
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Truncate(time.Microsecond)
	case *time.Time:
		if x == nil {
			return nil
		}
		return x.UTC().Truncate(time.Microsecond)
	case *big.Int:
		if x == nil {
			return nil
		}
		return x.String()
	case []string:
		return strings.Join(x, ",")
	case List:
		return []string(x) // an array parameter (Postgres only; see tx.in)
	case *int64:
		if x == nil {
			return nil
		}
		return *x
	case *uint32:
		if x == nil {
			return nil
		}
		return int64(*x)
	case uint32:
		return int64(x)
	}
	return v
}

// timeCol scans a time stored as TIMESTAMPTZ (Postgres) or INTEGER unix microseconds
// (SQLite) into a UTC time.
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(src any) error {
	switch x := src.(type) {
	case time.Time:
		*c.t = x.UTC()
	case int64:
		*c.t = time.UnixMicro(x).UTC()
	default:
		return fmt.Errorf("sqldb: cannot scan %T into a time", src)
	}
	return nil
}

// nullTimeCol is timeCol for nullable columns.
type nullTimeCol struct{ t **time.Time }

func (c nullTimeCol) Scan(src any) error {
	if src == nil {
		*c.t = nil
		return nil
	}
	var t time.Time
	if err := (timeCol{&t}).Scan(src); err != nil {
		return err
	}
	*c.t = &t
	return nil
}

// bigCol scans an atomic amount stored as NUMERIC(78,0) or TEXT.
type bigCol struct{ v **big.Int }

func (c bigCol) Scan(src any) error {
	if src == nil {
		*c.v = nil
		return nil
	}
	var s string
	switch x := src.(type) {
	case string:
		s = x
	case []byte:
		s = string(x)
	case int64:
		*c.v = big.NewInt(x)
		return nil
	default:
		return fmt.Errorf("sqldb: cannot scan %T into an amount", src)
	}
	n, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return fmt.Errorf("sqldb: stored amount %q is not an integer", s)
	}
	*c.v = n
	return nil
}

// listCol scans comma-joined text into a string slice ("" is an empty slice).
type listCol struct{ v *[]string }

func (c listCol) Scan(src any) error {
	var s string
	switch x := src.(type) {
	case nil:
	case string:
		s = x
	case []byte:
		s = string(x)
	default:
		return fmt.Errorf("sqldb: cannot scan %T into a list", src)
	}
	if s == "" {
		*c.v = nil
		return nil
	}
	*c.v = strings.Split(s, ",")
	return nil
}

// nullStr scans a nullable text column into a string ("" for NULL).
type nullStr struct{ v *string }

func (c nullStr) Scan(src any) error {
	switch x := src.(type) {
	case nil:
		*c.v = ""
	case string:
		*c.v = x
	case []byte:
		*c.v = string(x)
	default:
		return fmt.Errorf("sqldb: cannot scan %T into text", src)
	}
	return nil
}

// nullInt scans a nullable integer column.
type nullInt struct{ v **int64 }

func (c nullInt) Scan(src any) error {
	switch x := src.(type) {
	case nil:
		*c.v = nil
	case int64:
		*c.v = &x
	case int32:
		y := int64(x)
		*c.v = &y
	default:
		return fmt.Errorf("sqldb: cannot scan %T into an integer", src)
	}
	return nil
}
