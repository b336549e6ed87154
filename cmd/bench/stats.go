package main

import (
	"encoding/json"
	"slices"
	"time"
)

// latencies collects request durations.
type latencies []time.Duration

// quantile returns the q-quantile (0..1) by the nearest-rank method; 0 when empty.
func (l latencies) quantile(q float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
