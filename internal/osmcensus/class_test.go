package osmcensus_test

import (
	"slices"
	"testing"

	"github.com/paulmach/osm"

	"citygrid/internal/osmcensus"
	"citygrid/registry"
)

// tags builds osm.Tags from key, value pairs.
func tags(kv ...string) osm.Tags {
	var ts osm.Tags
	for i := 0; i+1 < len(kv); i += 2 {
		ts = append(ts, osm.Tag{Key: kv[i], Value: kv[i+1]})
	}
	return ts
}

func TestClassOf(t *testing.T) {
	tests := []struct {
		name string
		tags osm.Tags
		want string
	}{
		{"street lamp", tags("highway", "street_lamp"), "01037"},
		{"fire hydrant", tags("emergency", "fire_hydrant", "fire_hydrant:type", "pillar"), "01013"},
		{"sewer manhole", tags("man_made", "manhole", "manhole", "sewer"), "01002"},
		{"drain manhole", tags("man_made", "manhole", "manhole", "drain"), "01003"},
		{"rain manhole", tags("man_made", "manhole", "manhole", "rain"), "01003"},
		{"water manhole", tags("man_made", "manhole", "manhole", "water"), "01001"},
		{"telecom manhole", tags("man_made", "manhole", "manhole", "telecom"), "01007"},
		{"power manhole", tags("man_made", "manhole", "manhole", "power"), "01005"},
		{"gas manhole", tags("man_made", "manhole", "manhole", "gas"), "01011"},
		{"heating manhole", tags("man_made", "manhole", "manhole", "heating"), "01010"},
		{"manhole of unknown use", tags("man_made", "manhole"), "01023"},
		{"manhole of other use", tags("man_made", "manhole", "manhole", "unknown"), "01023"},
		{"bench", tags("amenity", "bench", "backrest", "yes"), "04007"},
		{"waste basket", tags("amenity", "waste_basket"), "03005"},
		{"bus stop", tags("highway", "bus_stop", "bench", "yes", "name", "Vaduz Post"), "02004"},
		{"avenue tree", tags("natural", "tree", "denotation", "avenue"), "04002"},
		{"urban tree", tags("natural", "tree", "denotation", "urban"), "04003"},
		{"tree", tags("natural", "tree", "leaf_type", "broadleaved"), "04003"},
		{"traffic signals", tags("highway", "traffic_signals"), "02014"},
		{"traffic sign", tags("traffic_sign", "city_limit"), "02010"},
		{"traffic sign none", tags("traffic_sign", "none"), ""},
		{"traffic sign no", tags("traffic_sign", "no"), ""},
		{"post box", tags("amenity", "post_box"), "01042"},
		{"telephone", tags("amenity", "telephone"), "01041"},
		{"toilets", tags("amenity", "toilets"), "03001"},
		{"bicycle parking", tags("amenity", "bicycle_parking"), "02027"},
		{"power pole", tags("power", "pole"), "01030"},
		{"power cabinet", tags("man_made", "street_cabinet", "street_cabinet", "power"), "01028"},
		{"telecom cabinet", tags("man_made", "street_cabinet", "street_cabinet", "telecom"), "01027"},
		{"cabinet", tags("man_made", "street_cabinet"), "01028"},
		{"clothes recycling", tags("amenity", "recycling", "recycling:clothes", "yes"), "01059"},
		{"glass recycling", tags("amenity", "recycling", "recycling:glass_bottles", "yes", "recycling:clothes", "no"), "03005"},
		{"drinking water", tags("amenity", "drinking_water"), "01025"},
		{"bollard", tags("barrier", "bollard"), "02021"},
		{"picnic table", tags("leisure", "picnic_table"), "04009"},
		{"crossing", tags("highway", "crossing", "crossing", "zebra"), ""},
		{"give way", tags("highway", "give_way"), ""},
		{"stop", tags("highway", "stop"), ""},
		{"stop sign with traffic_sign", tags("highway", "stop", "traffic_sign", "DE:206"), "02010"},
		{"street lamp carrying a sign", tags("highway", "street_lamp", "traffic_sign", "city_limit"), "01037"},
		{"hydrant on a manhole", tags("man_made", "manhole", "emergency", "fire_hydrant"), "01013"},
		{"untagged", nil, ""},
		{"unrelated", tags("name", "Rheinpark Stadion", "leisure", "stadium"), ""},
		{"bench value on other key", tags("leisure", "bench"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := osmcensus.ClassOf(tt.tags); got != tt.want {
				t.Errorf("ClassOf(%v) = %q, want %q", tt.tags.Map(), got, tt.want)
			}
		})
	}
	// Every class a row above produced must be listed by Classes.
	for _, tt := range tests {
		if tt.want != "" && !slices.Contains(osmcensus.Classes(), tt.want) {
			t.Errorf("Classes() lacks %s (returned for %s)", tt.want, tt.name)
		}
	}
}

// TestClassesInCatalog pins the table to the GB/T 47678.5-2026 names as docs/standards.md §3.2
// writes them: a renumbered or renamed catalogue row shows up here.
func TestClassesInCatalog(t *testing.T) {
	want := map[string]string{
		"01001": "供水井盖", "01002": "污水井盖", "01003": "雨水井盖", "01005": "电力井盖",
		"01007": "通信井盖", "01010": "热力井盖", "01011": "燃气井盖", "01013": "消防设施",
		"01023": "不明井盖", "01025": "供水器", "01027": "通信交接箱", "01028": "电力设施",
		"01030": "电力立杆", "01037": "路灯", "01041": "电话亭", "01042": "邮筒",
		"01059": "旧衣物回收箱", "02004": "公交站设施", "02010": "交通标志牌及标线",
		"02014": "交通信号灯", "02021": "便道桩", "02027": "存车支架", "03001": "公共厕所",
		"03005": "垃圾箱", "04002": "行道树", "04003": "独立树", "04007": "街头座椅",
		"04009": "绿地附属设施",
	}
	classes := osmcensus.Classes()
	if len(classes) != len(want) {
		t.Errorf("len(Classes()) = %d, want %d", len(classes), len(want))
	}
	if !slices.IsSorted(classes) {
		t.Errorf("Classes() = %v, want sorted", classes)
	}
	cat := registry.DefaultCatalog()
	for _, code := range classes {
		cl, ok := cat.Lookup(registry.KindComponent, code)
		if !ok {
			t.Errorf("Lookup(component, %s) not found", code)
			continue
		}
		if cl.Name != want[code] {
			t.Errorf("Lookup(component, %s).Name = %q, want %q", code, cl.Name, want[code])
		}
		if cl.Standard != registry.StandardGB2026 {
			t.Errorf("Lookup(component, %s).Standard = %q, want %q", code, cl.Standard, registry.StandardGB2026)
		}
	}
}
