package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGenerate(t *testing.T) {
	in := "\ufeffid,pid,deep,name,pinyin_prefix,pinyin,ext_id,ext_name\n" +
		"50,0,0,\"重庆\",\"c\",\"chong qing\",\"500000000000\",\"重庆市\"\n" +
		"500103,5001,2,\"渝中\",\"y\",\"yu zhong\",\"500103000000\",\"渝中区\"\n" +
		"500103001,500103,3,\"七星岗\",\"q\",\"qi xing gang\",\"500103001000\",\"七星岗街道\"\n" +
		"110101,1101,2,\"东城\",\"d\",\"dong cheng\",\"110101000000\",\"东城区\"\n" +
		"419001000,419001,2,\"济源\",\"j\",\"ji yuan\",\"419001000000\",\"济源市\"\n" +
		"910000,9100,2,\"国外\",\"g\",\"guo wai\",0,\"国外\"\n"
	got, err := Generate(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := Header + "code\tname\n110101\t东城区\n419001\t济源市\n500103\t渝中区\n"
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	for name, bad := range map[string]string{
		"no deep column": "id,name\n1,a\n",
		"short code":     "id,deep,ext_id,ext_name\n5001,2,5001000,x\n",
		"street code":    "id,deep,ext_id,ext_name\n5001,2,500103001000,x\n",
		"twice":          "id,deep,ext_id,ext_name\n500103,2,500103000000,a\n500103,2,500103000000,b\n",
		"no districts":   "id,deep,ext_id,ext_name\n50,0,500000000000,a\n",
	} {
		if _, err := Generate(strings.NewReader(bad)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestGeneratedTableIsCurrent regenerates the table from the shared CSV and compares it with the
// committed registry/data/admin-districts.tsv.
func TestGeneratedTableIsCurrent(t *testing.T) {
	p := filepath.Join("..", "..", "..", "..", "shared", "data", "admin-codes", "areacity_ok_data_level4.csv")
	f, err := os.Open(p)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("shared file %s is required under CI: %v", p, err)
		}
		t.Skipf("shared file %s not available: %v", p, err)
	}
	defer f.Close()
	got, err := Generate(f)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile(filepath.Join("..", "..", "data", "admin-districts.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, committed) {
		t.Error("registry/data/admin-districts.tsv differs from what genadmin makes of the shared CSV: run go generate ./registry")
	}
}
