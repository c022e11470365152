package registry

import (
	_ "embed"
	"strings"
	"sync"
)

// The county-level administrative divisions of China (2023 statistics codes), generated from
// the shared copy of AreaCity-JsSpider-StatsGov (MIT, data/LICENSE-AreaCity-MIT.txt).
//go:generate go run ./internal/genadmin -csv ../../shared/data/admin-codes/areacity_ok_data_level4.csv -out data/admin-districts.tsv

//go:embed data/admin-districts.tsv
var adminDistrictsTSV string

var adminDistricts = sync.OnceValue(func() map[string]string {
	m := make(map[string]string, 3300)
	for line := range strings.Lines(adminDistrictsTSV) {
		line = strings.TrimRight(line, "\r\n")
		if line == "" || line[0] == '#' || line == "code\tname" {
			continue
		}
		code, name, ok := strings.Cut(line, "\t")
		if !ok {
			panic("registry: malformed line in data/admin-districts.tsv: " + line)
		}
		m[code] = name
	}
	return m
})

// DistrictName returns the name of the county-level division (区, 县, 县级市 …) with the
// 6-digit code, e.g. 渝中区 for 500103; ok is false when the 2023 administrative code table
// has no such district.
func DistrictName(code string) (name string, ok bool) {
	name, ok = adminDistricts()[code]
	return name, ok
}
