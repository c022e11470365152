package registry

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/paulmach/orb/geojson"
)

// Units and rules as a spreadsheet: a CSV (or TSV: a header line with more tabs than commas)
// whose header names the members of the JSON entries, one row per entry. Each row becomes the
// JSON entry DecodeUnits and DecodeRules check, so both forms are validated alike.
//
// Units: id, name, type, parent, supervisor, districts, phone, area. districts holds any
// number of 6-digit codes separated by ";" (also "；", ",", "，", "、", "|" or blanks);
// area is a WKT POLYGON or MULTIPOLYGON, or a GeoJSON geometry.
//
// Rules: id, order, class, kind, area, in_unit, unit, reason. order is an integer (empty: 0);
// in_unit is true/false (also 1/0, yes/no, 是/否; empty: false).
//
// Column names are matched ignoring case; the Chinese names in csvDocColumns work too. A
// column the kind does not have is an error of the whole document, not dropped silently.

// csvDocColumns maps the accepted column names (lower-cased) to the member, per document key.
var csvDocColumns = map[string]map[string]string{
	"units": {
		"id": "id", "编码": "id", "单位编码": "id", "标识": "id",
		"name": "name", "名称": "name", "单位名称": "name",
		"type": "type", "类型": "type", "单位类型": "type",
		"parent": "parent", "上级": "parent", "上级单位": "parent",
		"supervisor": "supervisor", "主管部门": "supervisor", "监管单位": "supervisor",
		"districts": "districts", "district": "districts", "区县": "districts", "辖区": "districts", "行政区": "districts",
		"phone": "phone", "电话": "phone", "值班电话": "phone", "联系电话": "phone",
		"area": "area", "wkt": "area", "geometry": "area", "范围": "area", "服务范围": "area",
	},
	"rules": {
		"id": "id", "编码": "id", "规则编码": "id",
		"order": "order", "顺序": "order", "序号": "order", "优先级": "order",
		"class": "class", "类别": "class", "部件类别": "class",
		"kind": "kind", "种类": "kind",
		"area": "area", "区域": "area", "范围": "area",
		"in_unit": "in_unit", "单位范围": "in_unit",
		"unit": "unit", "单位": "unit", "责任单位": "unit",
		"reason": "reason", "说明": "reason", "理由": "reason", "原因": "reason",
	},
}

// documentCSV reads a units or rules CSV into JSON entries; a row that cannot be read is a
// nil entry with its problem (invalid_row, or invalid_entry for a value that cannot be the
// member's). The error is the whole document's: an unreadable header, an unknown or repeated
// column, no id column.
func documentCSV(data []byte, key string) ([]json.RawMessage, []Problem, error) {
	cols := csvDocColumns[key]
	line := data
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	cr := csv.NewReader(bytes.NewReader(data))
	if csvTabSeparated(line) {
		cr.Comma, cr.LazyQuotes = '\t', true
	}
	header, err := cr.Read()
	if err != nil {
		return nil, nil, Errorf(Invalid, CodeInvalidInput, "the %s document is neither JSON (an array, or an object with a %q array) nor a CSV with a header row: %v", key, key, err)
	}
	members := make([]string, len(header))
	seen := map[string]bool{}
	for i, h := range header {
		h = strings.TrimSpace(h)
		if h == "" {
			continue // an unnamed column (a spreadsheet's trailing separator)
		}
		m, ok := cols[strings.ToLower(h)]
		if !ok {
			return nil, nil, Errorf(Invalid, CodeInvalidInput, "the %s document is neither JSON (an array, or an object with a %q array) nor a CSV of the columns %s: column %q", key, key, docColumnList(key), h)
		}
		if seen[m] {
			return nil, nil, Errorf(Invalid, CodeInvalidInput, "%s csv header: column %q is %s, which an earlier column is already", key, h, m)
		}
		seen[m] = true
		members[i] = m
	}
	if !seen["id"] {
		return nil, nil, Errorf(Invalid, CodeInvalidInput, "%s csv header: no id column (columns: %s)", key, docColumnList(key))
	}
	var entries []json.RawMessage
	var probs []Problem
	for i := 0; ; i++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return nil, nil, fmt.Errorf("read %s csv: %w", key, err)
			}
			entries = append(entries, nil)
			probs = append(probs, Problem{Index: i, Code: CodeInvalidRow, Message: pe.Error()})
			continue
		}
		obj := map[string]any{}
		var bad *Problem
		for j, v := range rec {
			m := members[j]
			if v = strings.TrimSpace(v); m == "" || v == "" {
				continue
			}
			val, msg := docValue(key, m, v)
			if msg != "" && bad == nil {
				bad = &Problem{Index: i, Field: m, Code: CodeInvalidEntry, Message: msg}
			}
			obj[m] = val
		}
		raw, err := json.Marshal(obj)
		if err != nil || bad != nil {
			if bad == nil {
				bad = &Problem{Index: i, Code: CodeInvalidEntry, Message: err.Error()}
			}
			if id, ok := obj["id"].(string); ok {
				bad.ID = id
			}
			entries = append(entries, nil)
			probs = append(probs, *bad)
			continue
		}
		entries = append(entries, raw)
	}
	return entries, probs, nil
}

// docColumnList names the columns of a units or rules CSV.
func docColumnList(key string) string {
	if key == "units" {
		return "id, name, type, parent, supervisor, districts, phone, area"
	}
	return "id, order, class, kind, area, in_unit, unit, reason"
}

// docValue turns a cell of a units or rules CSV into its JSON member value, or says why it
// cannot be one.
func docValue(key, member, v string) (any, string) {
	switch {
	case key == "units" && member == "districts":
		return splitList(v), ""
	case key == "units" && member == "area":
		if json.Valid([]byte(v)) {
			return json.RawMessage(v), ""
		}
		g, p := parseWKT(v)
		if p != nil {
			return nil, "area is neither a WKT POLYGON/MULTIPOLYGON nor GeoJSON: " + p.Message
		}
		raw, err := geojson.NewGeometry(g).MarshalJSON()
		if err != nil {
			return nil, "area: " + err.Error()
		}
		return json.RawMessage(raw), ""
	case key == "rules" && member == "order":
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, fmt.Sprintf("order %q is not an integer%s", v, excelHint(v))
		}
		return n, ""
	case key == "rules" && member == "in_unit":
		switch strings.ToLower(v) {
		case "true", "1", "yes", "y", "是":
			return true, ""
		case "false", "0", "no", "n", "否":
			return false, ""
		}
		return nil, fmt.Sprintf("in_unit %q is not true or false", v)
	}
	return v, ""
}

// splitList splits a cell holding several values: "500103;500104", "500103、500104".
func splitList(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool {
		switch r {
		case ';', '；', ',', '，', '、', '|', ' ', '\t', '\n', '\r':
			return true
		}
		return false
	})
}
