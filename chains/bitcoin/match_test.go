package bitcoin

import (
	"bytes"
	"encoding/hex"
	"math/big"
	"math/rand/v2"
	"os"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire"
)

const (
	mainnetBlockHash = "000000000000000000000c835b2adcaedc20fdf6ee440009c249452c726dafae"
	mainnetBlockFile = "mainnet_block_" + mainnetBlockHash + ".raw"
	// mainnetBlockEnv names another file holding the block.
	mainnetBlockEnv = "CHAINPAY_MAINNET_BLOCK"
)

// readMainnetBlock returns the raw real mainnet block. A missing file fails
// the test or benchmark: it is never skipped.
func readMainnetBlock(tb testing.TB) []byte {
	tb.Helper()
	// A copy lives in testdata/ so a clean clone (CI) has it; the block hash is checked by
	// the tests that decode it.
	path := "testdata/" + mainnetBlockFile
	if env := os.Getenv(mainnetBlockEnv); env != "" {
		path = env
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("mainnet block test data is required (set %s to its path): %v", mainnetBlockEnv, err)
	}
	return raw
}

func decodeBlock(tb testing.TB, raw []byte) *wire.MsgBlock {
	tb.Helper()
	var blk wire.MsgBlock
	if err := blk.Deserialize(bytes.NewReader(raw)); err != nil {
		tb.Fatalf("decode block: %v", err)
	}
	return &blk
}

// realScripts picks about n distinct output scripts that occur in blk,
// spread over the whole block and over every script template present.
func realScripts(blk *wire.MsgBlock, n int) [][]byte {
	var all [][]byte
	seen := map[string]bool{}
	byKind := map[scriptKind]bool{}
	for _, tx := range blk.Transactions {
		for _, out := range tx.TxOut {
			if seen[string(out.PkScript)] {
				continue
			}
			seen[string(out.PkScript)] = true
			all = append(all, out.PkScript)
		}
	}
	var picked [][]byte
	step := max(len(all)/n, 1)
	for i := 0; i < len(all); i++ {
		kind, _ := classify(all[i])
		if i%step == 0 || !byKind[kind] {
			byKind[kind] = true
			picked = append(picked, all[i])
		}
	}
	return picked
}

// randomScript writes a random P2WPKH or P2TR script into buf.
func randomScript(rng *rand.Rand, buf *[34]byte) []byte {
	if rng.IntN(2) == 0 {
		buf[0], buf[1] = 0x00, 0x14
		fill(rng, buf[2:22])
		return buf[:22]
	}
	buf[0], buf[1] = 0x51, 0x20
	fill(rng, buf[2:34])
	return buf[:34]
}

func fill(rng *rand.Rand, b []byte) {
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
}

// bruteForceMatch is the obvious quadratic reference: compare every output
// with every watched script and hash every transaction.
func bruteForceMatch(blk *wire.MsgBlock, watched [][]byte, refs []uint64) []Match {
	var out []Match
	for i, tx := range blk.Transactions {
		txid := tx.TxHash()
		for vout, o := range tx.TxOut {
			for j, w := range watched {
				if bytes.Equal(o.PkScript, w) {
					out = append(out, Match{TxID: txid, TxIndex: i, Vout: uint32(vout), PkScript: o.PkScript,
						Amount: big.NewInt(o.Value), Ref: refs[j]})
				}
			}
		}
	}
	return out
}

func TestMatchBlockMainnet(t *testing.T) {
	t.Parallel()
	blk := decodeBlock(t, readMainnetBlock(t))
	if got := blk.BlockHash().String(); got != mainnetBlockHash {
		t.Fatalf("block hash %s, want %s", got, mainnetBlockHash)
	}
	real := realScripts(blk, 20)
	if len(real) < 20 {
		t.Fatalf("picked only %d real scripts", len(real))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var watched [][]byte
	var refs []uint64
	for i, s := range real {
		watched = append(watched, s)
		refs = append(refs, uint64(1000+i))
	}
	var buf [34]byte
	for i := range 2000 {
		watched = append(watched, bytes.Clone(randomScript(rng, &buf)))
		refs = append(refs, uint64(1_000_000+i))
	}
	set := NewScriptSet(len(watched))
	for i, s := range watched {
		set.Add(s, refs[i])
	}
	if set.Len() != len(watched) {
		t.Fatalf("Len = %d, want %d", set.Len(), len(watched))
	}

	got := MatchBlock(blk, set)
	want := bruteForceMatch(blk, watched, refs)
	if len(want) < len(real) {
		t.Fatalf("brute force found %d matches for %d real scripts", len(want), len(real))
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("MatchBlock found %d matches, brute force %d\n got %+v\nwant %+v", len(got), len(want), got, want)
	}
	// Every template occurring in the block must have been matched. (The block
	// is from September 2021, before taproot activated: it has no P2TR
	// outputs; TestScriptSet covers P2TR.)
	inBlock, matched := map[scriptKind]bool{}, map[scriptKind]bool{}
	for _, tx := range blk.Transactions {
		for _, o := range tx.TxOut {
			k, _ := classify(o.PkScript)
			inBlock[k] = true
		}
	}
	for _, m := range got {
		k, _ := classify(m.PkScript)
		matched[k] = true
	}
	t.Logf("%d matches over %d transactions", len(got), len(blk.Transactions))
	if len(inBlock) < 5 {
		t.Errorf("block has only %d script templates; expected P2WPKH, P2WSH, P2PKH, P2SH and others", len(inBlock))
	}
	for k := range inBlock {
		if !matched[k] {
			t.Errorf("template %d occurs in the block but was never matched", k)
		}
	}
}

func TestScriptSet(t *testing.T) {
	t.Parallel()
	h := func(s string) []byte {
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	prog20 := "751e76e8199196d454941c45d1b3a323f1433bd6"
	prog32 := "a60869f0dbcf1dc659c9cecbaf8050135ea9e8cdc487053f1dc6880949dc684c"
	scripts := map[string][]byte{
		"p2wpkh":       h("0014" + prog20),
		"p2pkh":        h("76a914" + prog20 + "88ac"),
		"p2sh":         h("a914" + prog20 + "87"),
		"p2tr":         h("5120" + prog32),
		"p2wsh":        h("0020" + prog32),
		"op_return":    h("6a0b68656c6c6f20776f726c64"),
		"p2pk":         h("210279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798ac"),
		"witness v2":   h("5214" + prog20),
		"p2pkh no sig": h("76a914" + prog20 + "8887"),
		"empty":        {},
	}
	set := &ScriptSet{} // the zero value is usable
	ref := uint64(0)
	refs := map[string]uint64{}
	for name, s := range scripts {
		ref++
		refs[name] = ref
		buf := bytes.Clone(s)
		set.Add(buf, ref)
		for i := range buf {
			buf[i] ^= 0xff // the set must have copied the script
		}
	}
	if set.Len() != len(scripts) {
		t.Fatalf("Len = %d, want %d (same program under different templates must not collide)", set.Len(), len(scripts))
	}
	for name, s := range scripts {
		got, ok := set.Lookup(s)
		if !ok || got != refs[name] {
			t.Errorf("Lookup(%s) = %d, %v; want %d", name, got, ok, refs[name])
		}
	}
	for _, miss := range [][]byte{h("0014" + prog20[:38] + "00"), h("0014" + prog20 + "00"), h("5120" + prog32[:62]), h("6a")} {
		if r, ok := set.Lookup(miss); ok {
			t.Errorf("Lookup(%x) matched ref %d", miss, r)
		}
	}
	set.Add(scripts["p2tr"], 99)
	if got, _ := set.Lookup(scripts["p2tr"]); got != 99 || set.Len() != len(scripts) {
		t.Errorf("re-Add should replace the ref: got %d, Len %d", got, set.Len())
	}
	for name, s := range scripts {
		set.Remove(s)
		if _, ok := set.Lookup(s); ok {
			t.Errorf("%s still watched after Remove", name)
		}
	}
	if set.Len() != 0 {
		t.Errorf("Len after removing all = %d", set.Len())
	}
}

// TestScriptSetLookupDoesNotAllocate is not parallel: AllocsPerRun forbids it.
func TestScriptSetLookupDoesNotAllocate(t *testing.T) {
	set := NewScriptSet(4)
	p2tr := append([]byte{0x51, 0x20}, bytes.Repeat([]byte{7}, 32)...)
	other := []byte{0x6a, 0x01, 0x02}
	set.Add(p2tr, 1)
	set.Add(other, 2)
	if n := testing.AllocsPerRun(100, func() {
		set.Lookup(p2tr)
		set.Lookup(other)
	}); n != 0 {
		t.Errorf("Lookup allocates %.1f times per call", n)
	}
}

// buildBenchSet builds a set of n random P2WPKH/P2TR scripts plus the real
// ones, and returns it with the heap bytes it occupies per script.
func buildBenchSet(n int, real [][]byte) (*ScriptSet, float64) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	set := NewScriptSet(n)
	rng := rand.New(rand.NewPCG(42, 42))
	var buf [34]byte
	for i := range n {
		set.Add(randomScript(rng, &buf), uint64(i))
	}
	for i, s := range real {
		set.Add(s, uint64(n+i))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perScript := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(set.Len())
	return set, perScript
}

// BenchmarkDecode is the baseline: wire decoding of the real block only.
func BenchmarkDecode(b *testing.B) {
	raw := readMainnetBlock(b)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		var blk wire.MsgBlock
		if err := blk.Deserialize(bytes.NewReader(raw)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeAndMatch decodes the real block and matches it against
// 1,000,000 random P2WPKH/P2TR scripts plus about 20 scripts that occur in
// it. It reports the time ratio (decode+match)/decode, measured in the same
// iterations, and the heap bytes per watched script.
func BenchmarkDecodeAndMatch(b *testing.B) {
	raw := readMainnetBlock(b)
	real := realScripts(decodeBlock(b, raw), 20)
	const watched = 1_000_000
	set, perScript := buildBenchSet(watched, real)
	wantMin := len(real)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	var decodeTime, matchTime time.Duration
	iterations := 0
	for b.Loop() {
		iterations++
		t0 := time.Now()
		var blk wire.MsgBlock
		if err := blk.Deserialize(bytes.NewReader(raw)); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		matches := MatchBlock(&blk, set)
		t2 := time.Now()
		decodeTime += t1.Sub(t0)
		matchTime += t2.Sub(t1)
		if len(matches) < wantMin {
			b.Fatalf("%d matches, want at least %d", len(matches), wantMin)
		}
	}
	runtime.KeepAlive(set)
	b.ReportMetric(float64(decodeTime+matchTime)/float64(decodeTime), "total/decode")
	b.ReportMetric(float64(matchTime.Nanoseconds())/float64(iterations), "match-ns/op")
	b.ReportMetric(perScript, "B/script")
}

// TestScriptSetGrowth adds far more scripts than the initial filter holds, so
// the filter is rebuilt several times, and checks nothing is lost and nothing
// unwatched matches.
func TestScriptSetGrowth(t *testing.T) {
	t.Parallel()
	var set ScriptSet
	rng := rand.New(rand.NewPCG(7, 7))
	var buf [34]byte
	var added [][]byte
	for i := range 50_000 {
		s := bytes.Clone(randomScript(rng, &buf))
		added = append(added, s)
		set.Add(s, uint64(i))
	}
	for i, s := range added {
		if ref, ok := set.Lookup(s); !ok || ref != uint64(i) {
			t.Fatalf("script %d: Lookup = %d, %v", i, ref, ok)
		}
	}
	for range 50_000 {
		if s := randomScript(rng, &buf); func() bool { _, ok := set.Lookup(s); return ok }() {
			t.Fatalf("unwatched script %x matched", s)
		}
	}
}
