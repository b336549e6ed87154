package postgres_test

import (
	"testing"

	"github.com/chainpay/chainpay/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Backend{Name: "postgres", Open: storetest.Postgres})
}
