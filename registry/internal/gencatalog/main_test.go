package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestGeneratedTableUpToDate regenerates the table from the shared files and compares it with the
// committed one, so a changed generator or source cannot go unnoticed.
func TestGeneratedTableUpToDate(t *testing.T) {
	shared := filepath.Join("..", "..", "..", "..", "shared")
	jsonPath := filepath.Join(shared, "data", "standards", "gb47678-5-2026.json")
	digestPath := filepath.Join(shared, "docs", "standards.md")
	for _, p := range []string{jsonPath, digestPath} {
		if _, err := os.Stat(p); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("shared file %s is required under CI: %v", p, err)
			}
			t.Skipf("shared file %s not available: %v", p, err)
		}
	}
	out := filepath.Join(t.TempDir(), "gb47678-5-2026.tsv")
	if err := run(jsonPath, digestPath, out); err != nil {
		t.Fatalf("run(%s, %s) error = %v", jsonPath, digestPath, err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("..", "..", "data", "gb47678-5-2026.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("generated table differs from registry/data/gb47678-5-2026.tsv; run go generate ./registry")
	}
}

func TestDigestNames(t *testing.T) {
	md := []byte("## 3\n### 3.2 Annex A\n| Code | Name | Code | Name |\n|---|---|---|---|\n| 01001 | 供水井盖 | 01027 | 通信交接箱 |\n| (01016) | — not in transcription — | 01052 | 休息亭 |\n" +
		"**03 市容环卫设施 (2)**: 03001 公共厕所, 03016 烟头收集器或灭烟处.\n" +
		"### 3.3 Annex C\n**07 宣传广告类 (2)**: 07001 非法小广告, (07005 missing), 07006 违规牌匾标识.\n" +
		"**05 x**: 05002 公房地下室, 05009 文物古迹. (05001, 05004–05008 missing — gap)\n" +
		"### 3.4 Older\n| 0101 | 上水井盖 |\n**x**: 06001 not read\n")
	comps, matters, err := digestNames(md)
	if err != nil {
		t.Fatal(err)
	}
	wantComps := map[string]string{"01001": "供水井盖", "01027": "通信交接箱", "01052": "休息亭", "03001": "公共厕所", "03016": "烟头收集器或灭烟处"}
	wantMatters := map[string]string{"07001": "非法小广告", "07006": "违规牌匾标识", "05002": "公房地下室", "05009": "文物古迹"}
	for _, c := range []struct {
		name      string
		got, want map[string]string
	}{{"components", comps, wantComps}, {"matters", matters, wantMatters}} {
		if len(c.got) != len(c.want) {
			t.Errorf("digestNames %s = %v, want %v", c.name, c.got, c.want)
		}
		for k, v := range c.want {
			if c.got[k] != v {
				t.Errorf("digestNames %s[%s] = %q, want %q", c.name, k, c.got[k], v)
			}
		}
	}
}
