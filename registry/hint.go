package registry

import (
	"fmt"
	"math"
)

// China's extent in lon/lat degrees, generously: what a census of a Chinese city holds.
const (
	chinaMinLon, chinaMaxLon = 73.0, 136.0
	chinaMinLat, chinaMaxLat = 3.0, 54.0
)

// webMercatorR is the sphere radius of EPSG:3857.
const webMercatorR = 6378137.0

// CoordHint says what a position (x, y) that is not a usable lon/lat looks like instead:
// latitude and longitude swapped ([29.56, 106.55] in China), Web Mercator metres (EPSG:3857),
// or Gauss-Krüger/UTM metres with or without the zone number in front of the easting (CGCS2000
// 3° or 6° zones), possibly northing first. It returns "" when it cannot tell. The census
// problems invalid_coordinates and outside_grid carry it as their hint.
func CoordHint(x, y float64) string {
	if math.IsNaN(x) || math.IsNaN(y) || math.IsInf(x, 0) || math.IsInf(y, 0) {
		return ""
	}
	if inChina(y, x) && !inChina(x, y) {
		return fmt.Sprintf("the coordinates look swapped: [%s, %s] is in China as lon %s, lat %s; write longitude first", fmtCoord(x), fmtCoord(y), fmtCoord(y), fmtCoord(x))
	}
	ax, ay := math.Abs(x), math.Abs(y)
	if ax <= 180 && ay <= 90 {
		return ""
	}
	if h := projectedHint(x, y, "easting %s, northing %s"); h != "" {
		return h
	}
	if h := projectedHint(y, x, "northing %[2]s, easting %[1]s (northing first)"); h != "" {
		return h
	}
	if ax <= math.Pi*webMercatorR && ay <= math.Pi*webMercatorR {
		lon, lat := fromWebMercator(x, y)
		if inChina(lon, lat) {
			return fmt.Sprintf("the coordinates look like Web Mercator metres (EPSG:3857; lon %.5f, lat %.5f); reproject the file to EPSG:4326 or EPSG:4490", lon, lat)
		}
	}
	return "the coordinates are far beyond lon/lat degrees: projected metres? reproject the file to EPSG:4326 or EPSG:4490"
}

// projectedHint recognises easting e and northing n (metres) of a transverse Mercator grid
// over China; format names them (with the two values as its arguments).
func projectedHint(e, n float64, format string) string {
	if n < 300_000 || n > 6_000_000 { // China's northings: about 330 km (3°N) to 5,990 km (54°N)
		return ""
	}
	pos := fmt.Sprintf(format, fmtCoord(e), fmtCoord(n))
	switch {
	case e >= 100_000 && e < 900_000:
		return "the coordinates look like Gauss-Krüger or UTM metres without zone number (" + pos + "); reproject the file to EPSG:4326 or EPSG:4490"
	case e >= 13_000_000 && e < 46_000_000 && math.Mod(e, 1_000_000) >= 100_000 && math.Mod(e, 1_000_000) < 900_000:
		zone := int(e / 1_000_000)
		var which string
		switch {
		case zone >= 25: // 3° zones 25–45 cover 73.5°E–136.5°E
			which = fmt.Sprintf("3° zone %d, central meridian %d°E", zone, 3*zone)
		case zone <= 23: // 6° zones 13–23 cover 72°E–138°E
			which = fmt.Sprintf("6° zone %d, central meridian %d°E", zone, 6*zone-3)
		default:
			return ""
		}
		if e <= math.Pi*webMercatorR && format == "easting %s, northing %s" {
			if lon, lat := fromWebMercator(e, n); inChina(lon, lat) {
				return fmt.Sprintf("the coordinates look like Gauss-Krüger metres with zone number (%s; %s) or Web Mercator metres (EPSG:3857); reproject the file to EPSG:4326 or EPSG:4490", pos, which)
			}
		}
		return fmt.Sprintf("the coordinates look like Gauss-Krüger metres with zone number (%s; %s); reproject the file to EPSG:4326 or EPSG:4490", pos, which)
	}
	return ""
}

func fromWebMercator(x, y float64) (lon, lat float64) {
	lon = x / webMercatorR * 180 / math.Pi
	lat = (2*math.Atan(math.Exp(y/webMercatorR)) - math.Pi/2) * 180 / math.Pi
	return lon, lat
}

func inChina(lon, lat float64) bool {
	return lon >= chinaMinLon && lon <= chinaMaxLon && lat >= chinaMinLat && lat <= chinaMaxLat
}
