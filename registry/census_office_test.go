package registry_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/paulmach/orb"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/unicode"

	"citygrid/registry"
)

// gbk encodes s in GBK, as Excel on a Chinese Windows saves a CSV.
func gbk(t testing.TB, s string) string {
	t.Helper()
	b, err := simplifiedchinese.GBK.NewEncoder().String(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// gb18030 encodes s in GB 18030, four-byte sequences for what GBK lacks.
func gb18030(t testing.TB, s string) string {
	t.Helper()
	b, err := simplifiedchinese.GB18030.NewEncoder().String(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// utf16 encodes s in UTF-16 with a byte order mark, little- or big-endian.
func utf16(t testing.TB, little bool, s string) string {
	t.Helper()
	order := unicode.BigEndian
	if little {
		order = unicode.LittleEndian
	}
	b, err := unicode.UTF16(order, unicode.UseBOM).NewEncoder().String(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseEncoding(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want registry.Encoding
		code string
	}{
		{"", registry.EncodingAuto, ""},
		{"auto", registry.EncodingAuto, ""},
		{"UTF-8", registry.EncodingUTF8, ""},
		{"utf8", registry.EncodingUTF8, ""},
		{"GBK", registry.EncodingGBK, ""},
		{"cp936", registry.EncodingGBK, ""},
		{"gb2312", registry.EncodingGBK, ""},
		{"GB18030", registry.EncodingGB18030, ""},
		{"UTF-16", registry.EncodingUTF16, ""},
		{"unicode", registry.EncodingUTF16, ""},
		{"latin1", "", "invalid_input"},
		{"big5", "", "invalid_input"},
	} {
		got, err := registry.ParseEncoding(tt.in)
		if got != tt.want || registry.ErrorCode(err) != tt.code && !(tt.code == "" && err == nil) {
			t.Errorf("ParseEncoding(%q) = %q, %v, want %q, %q", tt.in, got, err, tt.want, tt.code)
		}
	}
}

func TestDecodeText(t *testing.T) {
	const text = "编码,名称,经度,纬度\n1,七星岗街道路灯,106.5,29.5\n"
	long := strings.Repeat("a,b\n", (1<<20)/4) // a megabyte of ASCII before the Chinese
	for _, tt := range []struct {
		name    string
		in      string
		enc     registry.Encoding
		want    string
		wantEnc registry.Encoding
	}{
		{"ascii", "lon,lat\n1,2\n", "", "lon,lat\n1,2\n", registry.EncodingUTF8},
		{"utf-8", text, "", text, registry.EncodingUTF8},
		{"utf-8 with BOM stays as it is", "\xEF\xBB\xBF" + text, "", "\xEF\xBB\xBF" + text, registry.EncodingUTF8},
		{"gbk detected", gbk(t, text), "", text, registry.EncodingGB18030},
		{"gbk named", gbk(t, text), registry.EncodingGBK, text, registry.EncodingGBK},
		{"gb18030 four-byte characters", gb18030(t, "€,𠀀,龘\n"), "", "€,𠀀,龘\n", registry.EncodingGB18030},
		{"utf-16le with BOM (Excel's Unicode text)", utf16(t, true, "编码\t经度\n"), "", "编码\t经度\n", registry.EncodingUTF16},
		{"utf-16be with BOM", utf16(t, false, "编码\t经度\n"), "", "编码\t经度\n", registry.EncodingUTF16},
		{"utf-16 named", utf16(t, true, "a\tb\n"), registry.EncodingUTF16, "a\tb\n", registry.EncodingUTF16},
		{"utf-8 named keeps bad bytes", gbk(t, text), registry.EncodingUTF8, gbk(t, text), registry.EncodingUTF8},
		{"utf-8 then a stray byte later stays utf-8", text + strings.Repeat("x", 5000) + "\xff", "", text + strings.Repeat("x", 5000) + "\xff", registry.EncodingUTF8},
		{"gbk after a megabyte of ascii is not seen", long + gbk(t, "七"), "", long + gbk(t, "七"), registry.EncodingUTF8},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, enc := registry.DecodeText(strings.NewReader(tt.in), tt.enc)
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want || enc != tt.wantEnc {
				t.Errorf("DecodeText = %.60q, %q, want %.60q, %q", got, enc, tt.want, tt.wantEnc)
			}
		})
	}
	// A UTF-8 character cut by the end of the 1 MiB sample is still UTF-8.
	cut := strings.Repeat("a", (1<<20)-1) + "七八"
	if _, enc := registry.DecodeText(strings.NewReader(cut), ""); enc != registry.EncodingUTF8 {
		t.Errorf("UTF-8 cut at the sample's end: %q, want utf-8", enc)
	}
}

// readAll reads a census text with ReadFeatures and returns its features' props and points.
func readAll(t *testing.T, in string, f registry.Format) ([]map[string]string, []orb.Point) {
	t.Helper()
	var props []map[string]string
	var pts []orb.Point
	err := registry.ReadFeatures(strings.NewReader(in), f, func(ft *registry.Feature) error {
		if ft.Err != nil {
			t.Errorf("feature %d: %+v", ft.Index, *ft.Err)
			return nil
		}
		m := map[string]string{}
		for k, v := range ft.Props {
			m[k] = v
		}
		props = append(props, m)
		p, _ := ft.Geometry.(orb.Point)
		pts = append(pts, p)
		return nil
	})
	if err != nil {
		t.Fatalf("ReadFeatures: %v", err)
	}
	return props, pts
}

// TestReadCSVOffice: tab-separated files (named, or sniffed from the header) and the Chinese
// and other usual names of the coordinate columns.
func TestReadCSVOffice(t *testing.T) {
	want := []orb.Point{{106.5, 29.5}, {106.6, 29.6}}
	for _, tt := range []struct {
		name string
		in   string
		f    registry.Format
	}{
		{"tsv", "id\tlon\tlat\n1\t106.5\t29.5\n2\t106.6\t29.6\n", registry.FormatTSV},
		{"tsv sniffed", "id\tlon\tlat\n1\t106.5\t29.5\n2\t106.6\t29.6\n", registry.FormatCSV},
		{"tsv with a comma in a value", "id\tlon\tlat\tnote\n1\t106.5\t29.5\ta, b\n2\t106.6\t29.6\t\"q\n", registry.FormatCSV},
		{"经度 纬度", "编码,经度,纬度\n1,106.5,29.5\n2,106.6,29.6\n", registry.FormatCSV},
		{"东经 北纬", "北纬,东经,编码\n29.5,106.5,1\n29.6,106.6,2\n", registry.FormatCSV},
		{"long latitude", "Long,Latitude,id\n106.5,29.5,1\n106.6,29.6,2\n", registry.FormatCSV},
	} {
		t.Run(tt.name, func(t *testing.T) {
			props, pts := readAll(t, tt.in, tt.f)
			if !cmp.Equal(pts, want) {
				t.Errorf("points %v, want %v", pts, want)
			}
			if len(props) != 2 || len(props[0]) == 0 {
				t.Errorf("props %v, want the id column of both rows", props)
			}
		})
	}
	for _, tt := range []struct{ name, head, want string }{
		{"tsv by name", "x", "tsv"},
		{"tsv by header", "编码\t经度\t纬度\n1\t2\t3\n", "tsv"},
		{"csv by header with 经度", "编码,经度,纬度\n", "csv"},
	} {
		name := "upload"
		if tt.name == "tsv by name" {
			name = "components.tsv"
		}
		f, err := registry.DetectFormat(name, []byte(tt.head))
		if err != nil || string(f) != tt.want {
			t.Errorf("DetectFormat(%q, %q) = %q, %v, want %q", name, tt.head, f, err, tt.want)
		}
	}
}

// TestImportOfficeCSV: what Excel does to a components sheet — GBK, Chinese column names,
// classes without their leading zero, codes in scientific notation — gives the components
// or clear problems, and the report says what was fixed up.
func TestImportOfficeCSV(t *testing.T) {
	e := newTestEnv(t)
	if _, err := e.importCells(t, twoCells, registry.ModeStrict); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sheet := "管理部件标识码,部件类别,名称,状态,养护单位,经度,纬度\r\n" +
		",1037,解放碑路灯,完好,路灯所,106.5705,29.5505\r\n" + // 01037 lost its zero
		"50010301001000009,01001,井盖,破损,,106.5715,29.5505\r\n" +
		"5.00103E+16,01001,井盖,完好,,106.5715,29.5506\r\n" // Excel's scientific notation
	rep, err := e.svc.Import(ctx, registry.CensusComponents, strings.NewReader(gbk(t, sheet)),
		registry.ImportOptions{Mode: registry.ModePartial, Name: "部件.csv", Actor: "t"})
	if err != nil {
		t.Fatalf("Import: %v (%+v)", err, rep)
	}
	if rep.Created != 2 || rep.Rejected != 1 {
		t.Errorf("report %+v, want 2 created and the scientific id rejected", rep)
	}
	if len(rep.Problems) != 1 || rep.Problems[0].Index != 2 || rep.Problems[0].Code != "invalid_component_code" ||
		!strings.Contains(rep.Problems[0].Message, "scientific notation") {
		t.Errorf("problems %+v, want row 2 invalid_component_code explaining scientific notation", rep.Problems)
	}
	var codes []string
	for _, w := range rep.Warnings {
		codes = append(codes, w.Code)
	}
	if !cmp.Equal(codes, []string{"encoding_detected", "class_code_padded", "unknown_unit_name"}) {
		t.Errorf("warnings %+v, want encoding_detected, class_code_padded and unknown_unit_name (路灯所 is no unit)", rep.Warnings)
	}
	if len(rep.Warnings) == 3 && (rep.Warnings[1].Index != 0 || !strings.Contains(rep.Warnings[1].Message, "01037")) {
		t.Errorf("class warning %+v, want row 0 naming 01037", rep.Warnings[1])
	}
	found := 0
	err = e.store.ForEachComponent(ctx, func(c *registry.Component) error {
		switch c.Class {
		case "01037":
			found++
			if c.Name != "解放碑路灯" || c.Maintainer != "路灯所" || c.ID.Admin() != "500103" {
				t.Errorf("lamp %+v, want its Chinese name and maintainer", c)
			}
		case "01001":
			found++
			if c.Status != registry.StatusDamaged {
				t.Errorf("cover %+v, want damaged", c)
			}
		}
		return nil
	})
	if err != nil || found != 2 {
		t.Errorf("stored %d of the 2 components (%v)", found, err)
	}
}

// TestPadClassCode: only a class the catalogue does not know as written, with exactly one
// padded form in it, is padded.
func TestPadClassCode(t *testing.T) {
	cat := registry.DefaultCatalog()
	for _, tt := range []struct {
		class, want string
		warn        bool
	}{
		{"1037", "01037", true},
		{"1001", "01001", true},
		{"01037", "01037", false}, // right as it is
		{"0101", "0101", false},   // a legacy class the catalogue knows
		{"101", "0101", true},     // legacy 0101; 00101 is no class
		{"99999", "99999", false}, // unknown, nothing to pad
		{"9", "9", false},         // no padded form is a class
		{"abc", "abc", false},
	} {
		f := &registry.Feature{Index: 3, Props: map[string]string{"部件类别": tt.class}}
		w := registry.PadClassCode(f, cat)
		if got := f.Props["部件类别"]; got != tt.want || (w != nil) != tt.warn {
			t.Errorf("PadClassCode(%q) = %q, warning %+v; want %q, warning %v", tt.class, got, w, tt.want, tt.warn)
		}
		if w != nil && (w.Code != "class_code_padded" || w.Index != 3 || w.Field != "class") {
			t.Errorf("PadClassCode(%q) warning %+v, want class_code_padded at 3, field class", tt.class, w)
		}
	}
}

// TestUnitsRulesCSV: units and rules from a CSV (or TSV) decode to what the same entries in
// JSON decode to, with the same problems.
func TestUnitsRulesCSV(t *testing.T) {
	unitsJSON := `[
	 {"id":"500103-cgj","name":"渝中区城市管理局","type":"admin_department","districts":["500103","500104"]},
	 {"id":"500103-water","name":"渝中区供水公司","type":"public_service_unit","supervisor":"500103-cgj","districts":["500103"],"phone":"023-6300000",
	  "area":{"type":"Polygon","coordinates":[[[106.5,29.5],[106.6,29.5],[106.6,29.6],[106.5,29.6],[106.5,29.5]]]}},
	 {"id":"bad","name":"x","type":"nonsense","districts":["5001"]}
	]`
	unitsCSV := "id,name,type,parent,supervisor,districts,phone,area\n" +
		"500103-cgj,渝中区城市管理局,admin_department,,,500103;500104,,\n" +
		"500103-water,渝中区供水公司,public_service_unit,,500103-cgj,500103,023-6300000,\"POLYGON((106.5 29.5,106.6 29.5,106.6 29.6,106.5 29.6,106.5 29.5))\"\n" +
		"bad,x,nonsense,,,5001,,\n"
	unitsTSV := "编码\t名称\t类型\t主管部门\t辖区\t电话\n" +
		"500103-cgj\t渝中区城市管理局\tadmin_department\t\t500103、500104\t\n" +
		"500103-water\t渝中区供水公司\tpublic_service_unit\t500103-cgj\t500103\t023-6300000\n" +
		"bad\tx\tnonsense\t\t5001\t\n"
	wantU, wantUP, err := registry.DecodeUnits(strings.NewReader(unitsJSON))
	if err != nil {
		t.Fatal(err)
	}
	if len(wantUP) == 0 {
		t.Fatal("the JSON units have no problem: the comparison would not test problems")
	}
	for _, tt := range []struct{ name, in string }{{"csv", unitsCSV}, {"tsv without area", unitsTSV}} {
		got, probs, err := registry.DecodeUnits(strings.NewReader(tt.in))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		want := wantU
		if tt.name != "csv" {
			want = append([]registry.Unit(nil), wantU...)
			want[1].Area = nil
		}
		if !cmp.Equal(got, want) {
			t.Errorf("%s units: %s", tt.name, cmp.Diff(want, got))
		}
		if !cmp.Equal(censusProblemKeys(probs), censusProblemKeys(wantUP)) {
			t.Errorf("%s problems %v, want %v", tt.name, censusProblemKeys(probs), censusProblemKeys(wantUP))
		}
	}

	rulesJSON := `[{"id":"water-covers","order":10,"class":"01001","kind":"component","area":"500103","unit":"500103-water","reason":"供水井盖由供水公司养护"},
	 {"id":"in-own","order":20,"class":"01*","in_unit":true,"unit":"500103-water"},
	 {"id":"fallback","class":"*","unit":"500103-cgj"}]`
	rulesCSV := "id,order,class,kind,area,in_unit,unit,reason\n" +
		"water-covers,10,01001,component,500103,,500103-water,供水井盖由供水公司养护\n" +
		"in-own,20,01*,,,是,500103-water,\n" +
		"fallback,,*,,,false,500103-cgj,\n"
	wantR, _, err := registry.DecodeRules(strings.NewReader(rulesJSON))
	if err != nil {
		t.Fatal(err)
	}
	gotR, probs, err := registry.DecodeRules(strings.NewReader(rulesCSV))
	if err != nil || len(probs) != 0 || !cmp.Equal(gotR, wantR) {
		t.Errorf("rules csv = %v, %v, %v; want %v", gotR, probs, err, wantR)
	}

	// Row problems: each is its entry's, the other rows decode.
	bad := "id,order,class,in_unit,unit\n" +
		"a,first,*,,u\n" +
		"b,1,*,perhaps,u\n" +
		"c,1,*\n" +
		"d,1.5E+3,*,,u\n" +
		"e,2,*,,u\n"
	rules, probs, err := registry.DecodeRules(strings.NewReader(bad))
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, p := range probs {
		keys = append(keys, fmt.Sprintf("%d:%s:%s", p.Index, p.Field, p.Code))
	}
	if got, want := keys, []string{"0:order:invalid_entry", "1:in_unit:invalid_entry", "2::invalid_row", "3:order:invalid_entry"}; !cmp.Equal(got, want) {
		t.Errorf("problems %v, want %v", got, want)
	}
	if len(rules) != 5 || rules[4].ID != "e" || rules[4].Order != 2 {
		t.Errorf("rules %+v, want 5 entries with e decoded", rules)
	}

	for _, tt := range []struct{ name, in, msg string }{
		{"unknown column", "id,name,colour\n", `column "colour"`},
		{"no id column", "name,type\nx,city_centre\n", "no id column"},
		{"repeated column", "id,编码\n", "already"},
	} {
		_, _, err := registry.DecodeUnits(strings.NewReader(tt.in))
		if registry.ErrorCode(err) != "invalid_input" || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: %v, want invalid_input mentioning %q", tt.name, err, tt.msg)
		}
	}
}

// TestImportUnitsRulesCSV: units and rules import from a GBK CSV through Service.Import.
func TestImportUnitsRulesCSV(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	if _, err := e.importCells(t, twoCells, registry.ModeStrict); err != nil {
		t.Fatal(err)
	}
	units := "id,name,type,supervisor,districts\n" +
		"yz-cgj,渝中区城市管理局,admin_department,,500103\n" +
		"yz-lamps,渝中区路灯管理所,public_service_unit,yz-cgj,500103\n"
	rep, err := e.svc.Import(ctx, registry.CensusUnits, strings.NewReader(gbk(t, units)), registry.ImportOptions{Actor: "t"})
	if err != nil || rep.Created != 2 || len(rep.Warnings) != 1 || rep.Warnings[0].Code != "encoding_detected" {
		t.Fatalf("units = %+v, %v; want 2 created and encoding_detected", rep, err)
	}
	// Excel's "Unicode text": tab-separated UTF-16 with a byte order mark.
	rules := utf16(t, true, "编码\t顺序\t类别\t单位\t说明\r\nlamps\t1\t01037\tyz-lamps\t路灯归路灯所\r\n")
	if rep, err = e.svc.Import(ctx, registry.CensusRules, strings.NewReader(rules), registry.ImportOptions{Actor: "t"}); err != nil || rep.Created != 1 || len(rep.Warnings) != 0 {
		t.Fatalf("rules = %+v, %v; want 1 created, no warning", rep, err)
	}
	res, err := e.idx.Resolve(orb.Point{106.5705, 29.5505}, "01037")
	if err != nil || res.RuleID != "lamps" || res.Unit.Name != "渝中区路灯管理所" {
		t.Errorf("Resolve = %+v, %v; want rule lamps naming 渝中区路灯管理所", res, err)
	}
}

// FuzzDecodeText: decoding never fails or panics, yields UTF-8 when it decodes, and leaves
// text it calls UTF-8 unchanged.
func FuzzDecodeText(f *testing.F) {
	for _, s := range []string{"", "lon,lat\n", "编码,经度\n", "\xb1\xe0\xc2\xeb,x\n", "\xEF\xBB\xBF\xff", "\x81\x30\x89\x38"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, enc := registry.DecodeText(bytes.NewReader(data), "")
		got, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		switch enc {
		case registry.EncodingUTF8:
			if !bytes.Equal(got, data) {
				t.Errorf("UTF-8 text changed: %q → %q", data, got)
			}
		case registry.EncodingGB18030, registry.EncodingUTF16:
			if !utf8.Valid(got) {
				t.Errorf("%s decoded to invalid UTF-8: %q", enc, got)
			}
		default:
			t.Errorf("encoding %q", enc)
		}
	})
}

// FuzzDecodeUnitsCSV: any text decodes to entries and problems that line up, or to one
// document error; never a panic.
func FuzzDecodeUnitsCSV(f *testing.F) {
	for _, s := range []string{
		"id,name,type,districts\na,b,city_centre,500103;500104\n",
		"编码\t名称\t类型\n1\t2\t3\n",
		"id,area\nx,\"POLYGON((0 0,1 0,1 1,0 0))\"\n",
		"id,area\nx,{\"type\":\"Point\"}\n",
		"id,order,in_unit\n\"a\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		units, probs, err := registry.DecodeUnits(bytes.NewReader(data))
		if err != nil {
			var re *registry.Error
			if !errors.As(err, &re) {
				t.Fatalf("DecodeUnits error %v is not an *Error", err)
			}
			return
		}
		for _, p := range probs {
			if p.Index < 0 || p.Index >= len(units) {
				t.Errorf("problem %+v outside the %d entries", p, len(units))
			}
		}
		rules, probs, err := registry.DecodeRules(bytes.NewReader(data))
		if err == nil {
			for _, p := range probs {
				if p.Index < 0 || p.Index >= len(rules) {
					t.Errorf("rule problem %+v outside the %d entries", p, len(rules))
				}
			}
		}
	})
}

// TestDecodeTextSharedData: China's administrative code table (AreaCity, 43,118 rows, UTF-8
// with BOM; ../shared/data/SOURCES.md) reads unchanged as UTF-8, and its GB18030 form, as a
// Chinese office's export would be, is detected and decodes back to the same text.
func TestDecodeTextSharedData(t *testing.T) {
	path := filepath.Join("..", "..", "shared", "data", "admin-codes", "areacity_ok_data_level4.csv")
	raw, err := os.ReadFile(path)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("shared data: %v", err)
		}
		t.Skipf("shared data not available: %v", err)
	}
	r, enc := registry.DecodeText(bytes.NewReader(raw), "")
	got, err := io.ReadAll(r)
	if err != nil || enc != registry.EncodingUTF8 || !bytes.Equal(got, raw) {
		t.Errorf("UTF-8 table: encoding %q, unchanged %v, %v", enc, bytes.Equal(got, raw), err)
	}
	text := strings.TrimPrefix(string(raw), "\uFEFF")
	if !strings.Contains(text, "渝中区") {
		t.Fatal("the table lacks 渝中区")
	}
	r, enc = registry.DecodeText(strings.NewReader(gb18030(t, text)), "")
	got, err = io.ReadAll(r)
	if err != nil || enc != registry.EncodingGB18030 || string(got) != text {
		t.Errorf("GB18030 table: encoding %q, equal to the original %v, %v", enc, string(got) == text, err)
	}
}

// TestImportPaddedWarningsCapped: a sheet whose whole class column lost its zeros lists the
// first 100 fixed-up rows and counts the rest in one warning.
func TestImportPaddedWarningsCapped(t *testing.T) {
	e := newTestEnv(t)
	if _, err := e.importCells(t, twoCells, registry.ModeStrict); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("class,lon,lat\n")
	for i := 0; i < 150; i++ {
		fmt.Fprintf(&b, "1037,%.6f,29.5505\n", 106.5701+float64(i)*0.00001)
	}
	rep, err := e.importCSV(t, b.String(), registry.ModeStrict)
	if err != nil || rep.Created != 150 {
		t.Fatalf("import = %+v, %v; want 150 created", rep, err)
	}
	if len(rep.Warnings) != 101 {
		t.Fatalf("%d warnings, want 100 listed and 1 counting the rest", len(rep.Warnings))
	}
	last := rep.Warnings[100]
	if last.Code != "class_code_padded" || last.Index != -1 || !strings.Contains(last.Message, "50 more") {
		t.Errorf("last warning %+v, want class_code_padded at -1 counting 50 more", last)
	}
}

// FuzzDetectFormat: sniffing any head never panics and names a known format or fails with an
// *Error; a tab-separated head is TSV only when it has more tabs than commas.
func FuzzDetectFormat(f *testing.F) {
	for _, s := range []string{"编码\t经度\t纬度\n", "lon,lat\n", "{\"type\":\"Feature\"}\n{}", "\x1e{}", "a\tb,c,d\n", "\xEF\xBB\xBF北纬,东经\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, head []byte) {
		got, err := registry.DetectFormat("upload", head)
		if err != nil {
			var re *registry.Error
			if !errors.As(err, &re) {
				t.Fatalf("DetectFormat error %v is not an *Error", err)
			}
			return
		}
		switch got {
		case registry.FormatGeoJSON, registry.FormatNDJSON, registry.FormatCSV:
		case registry.FormatTSV:
			line, _, _ := bytes.Cut(head, []byte("\n"))
			if bytes.Count(line, []byte("\t")) <= bytes.Count(line, []byte(",")) {
				t.Errorf("TSV for a header with no more tabs than commas: %q", line)
			}
		default:
			t.Errorf("DetectFormat = %q", got)
		}
	})
}
