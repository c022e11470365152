package api

import (
	"errors"
	"math"
	"strings"
	"testing"

	"citygrid/registry"
)

// errCode is the stable code of a decode error, "" for none.
func errCode(err error) string {
	if err == nil {
		return ""
	}
	var re *registry.Error
	if errors.As(err, &re) {
		return re.Code
	}
	return "not a registry error: " + err.Error()
}

// checkDecodeSameAsBaseline decodes body with the one-pass parser and with the
// encoding/json baseline, and fails unless both give the same error code or the same
// positions (validity and exact coordinates).
func checkDecodeSameAsBaseline(t testing.TB, body string) {
	t.Helper()
	raws, wantErr := decodeBatchBaseline([]byte(body))
	st := batchPool.Get().(*batchState)
	defer st.release()
	gotErr := st.decode([]byte(body))
	st.numbersAll()
	if g, w := errCode(gotErr), errCode(wantErr); g != w {
		t.Fatalf("decode(%q) error = %q (%v), want %q (%v)", body, g, gotErr, w, wantErr)
	}
	if wantErr != nil {
		return
	}
	if len(st.slots) != len(raws) {
		t.Fatalf("decode(%q) = %d positions, want %d", body, len(st.slots), len(raws))
	}
	for i, raw := range raws {
		wp, wok := decodePositionBaseline(raw)
		g := st.slots[i]
		if g.ok != wok {
			t.Fatalf("decode(%q) position %d (%s): ok = %v, want %v", body, i, raw, g.ok, wok)
		}
		if wok && (math.Float64bits(g.p[0]) != math.Float64bits(wp[0]) || math.Float64bits(g.p[1]) != math.Float64bits(wp[1])) {
			t.Fatalf("decode(%q) position %d = %v, want %v", body, i, g.p, wp)
		}
	}
}

var decodeSeeds = []string{
	``, ` `, `null`, `[]`, `{}`, `[[1,2]]`, `[[1,2] ]`, "\t[ [ 1 , 2 ] ]\n", `[[1,2],]`, `[[1,2]`, `[[1,2]] x`,
	`[[1,2,3]]`, `[[1,2,3,4]]`, `[[1]]`, `[[]]`, `[null]`, `[[null,1]]`, `[[1,null,null]]`, `[[null,null]]`,
	`["x"]`, `[{}]`, `[true,false]`, `[[1,"2"]]`, `[[1,[2]]]`, `[[1e999,0]]`, `[[1e-999,0]]`, `[[-0,-0.0]]`,
	`[[01,2]]`, `[[1.,2]]`, `[[.5,2]]`, `[[+1,2]]`, `[[1e,2]]`, `[[1E+2,3e-1]]`, `[[-,2]]`, `[[NaN,1]]`,
	`[[116.3974812345678901,39.9]]`, `[[123456789012345.5,0.1]]`, `[[0.0000000000000000000001,-0.0000]]`,
	`[[12345678901234567890123,1]]`, `[[-179.99999999999997,89.99999999999999]]`, `[[116.397481,39.908823]]`,
	`[[200,10]]`, `[[180,90],[-180,-90],[180.0000001,0]]`, `[[116.39748,39.90882]]`,
	`{"type":"MultiPoint","coordinates":[[1,2]]}`, `{"type":"MultiPoint","coordinates":[]}`,
	`{"type":"MultiPoint","coordinates":null}`, `{"type":"MultiPoint"}`, `{"type":"Point","coordinates":[1,2]}`,
	`{"coordinates":[[1,2]],"type":"MultiPoint","bbox":[0,0,1,1],"properties":{"a":[{"b":null}]}}`,
	`{"TYPE":"MultiPoint","Coordinates":[[1,2]]}`, `{"type":"Multi\u0050oint","coordinate\u017f":[[1,2]]}`,
	`{"\u0074ype":"MultiPoint","coordinates":[[1,2]]}`, `{"type":"multipoint","coordinates":[[1,2]]}`,
	`{"type":"MultiPoint","coordinates":[[1,2]],"coordinates":null}`,
	`{"type":"MultiPoint","coordinates":null,"coordinates":[[3,4]]}`,
	`{"type":"MultiPoint","type":null,"coordinates":[[1,2]]}`, `{"type":1,"coordinates":[[1,2]]}`,
	`{"type":"MultiPoint","coordinates":{}}`, `{"type":"MultiPoint","coordinates":"x"}`,
	`{"type":"MultiPoint","coordinates":[[1,2]],}`, `{"type":"MultiPoint" "coordinates":[]}`,
	`{"type":"MultiPoint","coordinates":[[1,2]]}}`, `{"a":"\x01"}`, `{"a":"\q","type":"MultiPoint","coordinates":[]}`,
	`{"a":"\ud83d\ude00","type":"MultiPoint","coordinates":[]}`, `{"a":"\u12","type":"MultiPoint","coordinates":[]}`,
	"\xef\xbb\xbf[[1,2]]", `[[1,2]]` + "\u00a0", `{"type":"MultiPoint","coordinates":[[1,2]]` + "\n}",
	strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
	strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	`[[1,2],` + strings.Repeat("[", 9998) + strings.Repeat("]", 9998) + `]`,
	`[[1,2],` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `]`,
	"[" + strings.Repeat("[116.4,39.9],", MaxBatchPoints) + "[116.4,39.9]]",
	"[" + strings.Repeat("[116.4,39.9],", MaxBatchPoints-1) + "[116.4,39.9]]",
	"[" + strings.Repeat("[116.4,39.9],", MaxBatchPoints) + "[116.4,39.9]",
	`{"type":"MultiPoint","coordinates":[` + strings.Repeat("[1,2],", MaxBatchPoints) + `[1,2]],"coordinates":[[3,4]]}`,
}

// TestDecodeBatchSameAsBaseline pins the one-pass parser to what encoding/json accepted.
func TestDecodeBatchSameAsBaseline(t *testing.T) {
	for _, body := range decodeSeeds {
		name := body
		if len(name) > 60 {
			name = name[:60]
		}
		t.Run(name, func(t *testing.T) { checkDecodeSameAsBaseline(t, body) })
	}
}

// FuzzDecodeBatch: on any body, the one-pass parser and the encoding/json baseline agree
// on the error code or on every position.
func FuzzDecodeBatch(f *testing.F) {
	for _, s := range decodeSeeds {
		if len(s) < 1000 {
			f.Add(s)
		}
	}
	f.Fuzz(func(t *testing.T, body string) { checkDecodeSameAsBaseline(t, body) })
}

func TestDecodeBatchAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts are measured in full runs")
	}
	var sb strings.Builder
	sb.WriteString(`{"type":"MultiPoint","coordinates":[`)
	for i := range 1000 {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString("[116.39748123456,39.908821234567,12.5]")
	}
	sb.WriteString("]}")
	body := []byte(sb.String())
	// A state of its own, not the pool's: the race detector makes sync.Pool drop items.
	st := batchPool.New().(*batchState)
	allocs := testing.AllocsPerRun(50, func() {
		if err := st.decode(body); err != nil || len(st.slots) != 1000 {
			t.Fatalf("decode: %d positions, %v", len(st.slots), err)
		}
		st.numbersAll()
	})
	if allocs != 0 {
		t.Errorf("decode of 1000 positions: %.1f allocs, want 0", allocs)
	}
}

// numbersAll converts every slot's numbers, as answerChunk does chunk by chunk.
func (st *batchState) numbersAll() {
	for i := range st.slots {
		st.slots[i].numbers(st.body)
	}
}
