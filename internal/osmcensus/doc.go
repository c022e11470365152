// Package osmcensus turns OpenStreetMap street furniture into citygrid census files, so the
// registry and the spatial index can be tested on real positions instead of generated ones.
//
// Input is an OSM extract: a .osm.pbf file (read with osmpbf, nodes only) or OSM XML, plain
// (.osm) or gzipped (.osm.gz). Output, written by Convert into a directory, is
//
//	cells.geojson       a FeatureCollection of unit grid cells (properties code, name)
//	components.ndjson   one GeoJSON Feature per line (properties id, class, name, status, source, note, census_date)
//	ATTRIBUTION         the OpenStreetMap ODbL notice that must travel with the derived data
//
// Coordinates are WGS84 lon/lat, as in OSM.
//
// # Tag mapping
//
// Each node is mapped by the first row of this table that matches it; nodes matching no row
// are skipped. A "*" value matches any value except "no" and "none". Classes are
// GB/T 47678.5-2026 管理部件 codes (registry.DefaultCatalog, docs/standards.md §3.2).
//
//	OSM tag                                        class  name
//	emergency=fire_hydrant                         01013  消防设施
//	man_made=manhole + manhole=water               01001  供水井盖
//	man_made=manhole + manhole=sewer               01002  污水井盖
//	man_made=manhole + manhole=drain|rain          01003  雨水井盖
//	man_made=manhole + manhole=power               01005  电力井盖
//	man_made=manhole + manhole=telecom             01007  通信井盖
//	man_made=manhole + manhole=heating             01010  热力井盖
//	man_made=manhole + manhole=gas                 01011  燃气井盖
//	man_made=manhole, any other or no manhole=*    01023  不明井盖
//	man_made=street_cabinet + street_cabinet=telecom 01027 通信交接箱
//	man_made=street_cabinet, otherwise             01028  电力设施
//	highway=street_lamp                            01037  路灯
//	highway=traffic_signals                        02014  交通信号灯
//	traffic_sign=*                                 02010  交通标志牌及标线
//	highway=bus_stop                               02004  公交站设施
//	amenity=post_box                               01042  邮筒
//	amenity=telephone                              01041  电话亭
//	amenity=toilets                                03001  公共厕所
//	amenity=drinking_water                         01025  供水器
//	amenity=bench                                  04007  街头座椅
//	amenity=waste_basket                           03005  垃圾箱
//	amenity=recycling + recycling:clothes=yes      01059  旧衣物回收箱
//	amenity=recycling, otherwise                   03005  垃圾箱
//	amenity=bicycle_parking                        02027  存车支架
//	leisure=picnic_table                           04009  绿地附属设施
//	power=pole                                     01030  电力立杆
//	barrier=bollard                                02021  便道桩
//	natural=tree + denotation=avenue               04002  行道树
//	natural=tree, otherwise                        04003  独立树
//
// highway=crossing, give_way and stop are road markings or signs tagged on the road, not
// components, and are skipped (unless the node also carries a row above, e.g. traffic_sign).
//
// # Grid
//
// OSM has no unit grid, so Convert draws one: cells of about CellSize metres (100 by default)
// in a local metric lattice (longitude steps scaled by the cosine of the extent's mean
// latitude), one lattice cell around every component plus its eight neighbours. Interior
// vertices are jittered and some edges bent by a fixed hash of their lattice position, so
// most cells are irregular (some concave) quadrilaterals while neighbours still share their
// edges exactly: the cells tile without gaps or overlaps, and every component lies in exactly
// one cell's interior or on a shared boundary.
//
// Cell codes follow GB/T 47678.3's 6+3+3+3 layout with a fictitious district: Liechtenstein
// (and any non-Chinese extract) has no GB/T 2260 code, so District defaults to 990001, which
// no real county uses (citygrid refuses it as unknown_district: set District to a real code
// to import the files). Streets are blocks of BlockCols lattice columns (001 westmost),
// communities blocks of BlockRows rows (001 northmost) within a street, and the serial
// counts west→east, north→south inside the block (001…), as Beijing's DB11/T 2157 numbers
// cells. Component identifiers are District + class + a serial per class in node-id order.
// Every component is intact, with source "OpenStreetMap (ODbL)", note "osm node <id>" and,
// when the extract has timestamps, census_date the date of the node's last edit.
package osmcensus
