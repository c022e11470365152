package osmcensus

import "github.com/paulmach/osm"

// ClassOf returns the GB/T 47678.5-2026 component class of an OSM element with tags, or ""
// when the tags describe no street furniture. The table is in the package documentation;
// the first matching row wins.
func ClassOf(tags osm.Tags) string {
	switch tags.Find("emergency") {
	case "fire_hydrant":
		return "01013"
	}
	switch tags.Find("man_made") {
	case "manhole":
		switch tags.Find("manhole") {
		case "water":
			return "01001"
		case "sewer":
			return "01002"
		case "drain", "rain":
			return "01003"
		case "power":
			return "01005"
		case "telecom":
			return "01007"
		case "heating":
			return "01010"
		case "gas":
			return "01011"
		}
		return "01023"
	case "street_cabinet":
		if tags.Find("street_cabinet") == "telecom" {
			return "01027"
		}
		return "01028"
	}
	switch tags.Find("highway") {
	case "street_lamp":
		return "01037"
	case "traffic_signals":
		return "02014"
	}
	if v := tags.Find("traffic_sign"); v != "" && v != "no" && v != "none" {
		return "02010"
	}
	if tags.Find("highway") == "bus_stop" {
		return "02004"
	}
	switch tags.Find("amenity") {
	case "post_box":
		return "01042"
	case "telephone":
		return "01041"
	case "toilets":
		return "03001"
	case "drinking_water":
		return "01025"
	case "bench":
		return "04007"
	case "waste_basket":
		return "03005"
	case "recycling":
		if tags.Find("recycling:clothes") == "yes" {
			return "01059"
		}
		return "03005"
	case "bicycle_parking":
		return "02027"
	}
	if tags.Find("leisure") == "picnic_table" {
		return "04009"
	}
	if tags.Find("power") == "pole" {
		return "01030"
	}
	if tags.Find("barrier") == "bollard" {
		return "02021"
	}
	if tags.Find("natural") == "tree" {
		if tags.Find("denotation") == "avenue" {
			return "04002"
		}
		return "04003"
	}
	return ""
}

// Classes lists every class ClassOf can return, in code order.
func Classes() []string {
	return []string{
		"01001", "01002", "01003", "01005", "01007", "01010", "01011", "01013", "01023",
		"01025", "01027", "01028", "01030", "01037", "01041", "01042", "01059",
		"02004", "02010", "02014", "02021", "02027",
		"03001", "03005",
		"04002", "04003", "04007", "04009",
	}
}
