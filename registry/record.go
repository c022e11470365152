package registry

import (
	"strings"
	"time"

	"github.com/paulmach/orb"
)

// Key is the compact numeric key of a cell or component: assigned by the store on first insert,
// kept in the store, stable across restarts and nodes, and always below 2^53 so JavaScript map
// clients can use it as a vector-tile feature id. Cells and components have separate key spaces.
type Key uint64

// MaxKey is the largest key a store may assign (2^53 - 1).
const MaxKey Key = 1<<53 - 1

// Cell is a unit grid cell (单元网格). Coordinates are WGS84/CGCS2000 lon/lat.
//
// Cells are never deleted: a grid revision (Store.ReviseCells) retires the cells it replaces.
// A retired cell keeps its code, key, geometry and history and stays readable, but the spatial
// index no longer answers it (CellAt, lookups), and its code comes back only through another
// revision of its area.
type Cell struct {
	Key      Key
	Code     GridCode
	Name     string
	Geometry orb.MultiPolygon // always a MultiPolygon; rings closed, exterior first, holes after
	Area     float64          // m², computed from Geometry (geodesic), never taken from input
	Status   CellStatus       // CellActive (the zero value) or CellRetired
	Retired  time.Time        // when it was retired; zero while active
	Version  int64            // starts at 1, +1 on each change
	Updated  time.Time
}

// CellStatus is whether a cell is part of the current grid.
type CellStatus uint8

const (
	CellActive  CellStatus = iota // part of the current grid
	CellRetired                   // replaced by a grid revision; kept with its history
)

// String returns "active" or "retired".
func (s CellStatus) String() string {
	if s == CellRetired {
		return "retired"
	}
	return "active"
}

// ParseCellStatus accepts "active" and "retired".
func ParseCellStatus(s string) (CellStatus, error) {
	switch s {
	case "active":
		return CellActive, nil
	case "retired":
		return CellRetired, nil
	}
	return 0, Errorf(Invalid, CodeInvalidStatus, "a cell's status is active or retired, not %q", s)
}

// Status is a component's state (管理部件状态, GB/T 47678.5 Table 2).
type Status uint8

const (
	StatusIntact    Status = iota + 1 // 完好
	StatusDamaged                     // 破损
	StatusLost                        // 丢失
	StatusAbandoned                   // 废弃
	StatusRemoved                     // 移除: retired; never deleted
)

var statusNames = [...]struct{ en, zhs, zht string }{
	StatusIntact:    {"intact", "完好", "完好"},
	StatusDamaged:   {"damaged", "破损", "破損"},
	StatusLost:      {"lost", "丢失", "丟失"},
	StatusAbandoned: {"abandoned", "废弃", "廢棄"},
	StatusRemoved:   {"removed", "移除", "移除"},
}

// ParseStatus accepts the English name or the Chinese term (simplified or traditional).
// An empty string is StatusIntact, the state of a freshly surveyed component.
func ParseStatus(s string) (Status, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return StatusIntact, nil
	}
	ls := strings.ToLower(s)
	for i := StatusIntact; i <= StatusRemoved; i++ {
		n := statusNames[i]
		if ls == n.en || s == n.zhs || s == n.zht {
			return i, nil
		}
	}
	return 0, ErrInvalidStatus
}

// String returns the English name ("intact", …), "" for the zero value.
func (s Status) String() string {
	if s < StatusIntact || s > StatusRemoved {
		return ""
	}
	return statusNames[s].en
}

// Chinese returns the standard's term (简体), e.g. 完好.
func (s Status) Chinese() string {
	if s < StatusIntact || s > StatusRemoved {
		return ""
	}
	return statusNames[s].zhs
}

// Component is a managed component (管理部件) from the census.
type Component struct {
	Key         Key
	ID          ComponentCode // 17 digits; legacy imports keep their 16-digit ID in LegacyID
	LegacyID    ComponentCode // the 16-digit identifier it was imported with, if any
	Class       string        // 5-digit GB/T 47678.5-2026 class; "" when the legacy class has no counterpart
	LegacyClass string        // 4-digit legacy class it was imported with, if any
	Name        string
	Point       orb.Point // lon/lat WGS84/CGCS2000
	Status      Status
	Supervisor  string   // 主管部门: a unit id or name
	Owner       string   // 权属单位
	Maintainer  string   // 养护单位: a unit id or name; responsible for its problems (Art. 13)
	Cell        GridCode // always computed from Point, never taken from input
	CensusDate  time.Time
	ChangeDate  time.Time
	Source      string // 数据来源: 实测, 地形图, …
	Note        string
	// Attributes are the properties outside the census standard (材质, 规格, a QGIS fid) the
	// component came with or was given: canonical JSON object text, "" when none.
	Attributes Attributes
	Version    int64
	Updated    time.Time
	UpdatedBy  string
}

// UnitType is the kind of an organisation in the responsibility chain (Art. 5).
type UnitType uint8

const (
	UnitCityCentre         UnitType = iota + 1 // 市级数字化城管中心
	UnitDistrictCentre                         // 区县数字化城管中心
	UnitAdminDepartment                        // 行政主管部门
	UnitPublicService                          // 公共服务单位 (utilities, sanitation, …)
	UnitDistrictGovernment                     // 区县人民政府
)

var unitTypeNames = [...]string{
	UnitCityCentre:         "city_centre",
	UnitDistrictCentre:     "district_centre",
	UnitAdminDepartment:    "admin_department",
	UnitPublicService:      "public_service_unit",
	UnitDistrictGovernment: "district_government",
}

// ParseUnitType accepts the snake_case names of UnitType.String.
func ParseUnitType(s string) (UnitType, error) {
	for i := UnitCityCentre; i <= UnitDistrictGovernment; i++ {
		if s == unitTypeNames[i] {
			return i, nil
		}
	}
	return 0, Errorf(Invalid, CodeInvalidUnitType, "unit type %q is not one of city_centre, district_centre, admin_department, public_service_unit, district_government", s)
}

func (t UnitType) String() string {
	if t < UnitCityCentre || t > UnitDistrictGovernment {
		return ""
	}
	return unitTypeNames[t]
}

// Unit is an organisation that handles or supervises cases.
type Unit struct {
	ID         string // stable, chosen by the city (e.g. a 统一社会信用代码 or a short slug)
	Name       string
	Type       UnitType
	Parent     string           // parent unit id, "" at the top
	Supervisor string           // id of the admin department that supervises it (notified at dispatch, Art. 17)
	Districts  []string         // 6-digit district codes it serves
	Area       orb.MultiPolygon // optional own service area, used by rules with AreaUnit
	Phone      string           // on-duty contact (Art. 14)
	Version    int64
	Updated    time.Time
}

// Rule is one ordered responsibility rule: reports of a class inside an area go to a unit.
// Rules are data: the first matching rule in Order wins.
type Rule struct {
	ID      string
	Order   int    // ascending; ties broken by ID
	Class   string // "*" any; "01" a major class; "0101"/"01001" an exact class; "01*" same as "01"
	Kind    string // "component", "event" or "" for both
	Area    string // district/street/community/cell code prefix; "" everywhere
	InUnit  bool   // the area is the unit's own polygon (Unit.Area) instead of a code prefix
	Unit    string // responsible unit id
	Reason  string // why, shown with lookups
	Version int64
}

// ChangeOp is what a change did to a record.
type ChangeOp string

const (
	OpCreate ChangeOp = "create"
	OpUpdate ChangeOp = "update"
	OpRetire ChangeOp = "retire"
	OpDelete ChangeOp = "delete" // units and rules only; cells and components are never deleted
)

// Revision is one entry of the history of a cell, unit or rule, as Change is of a component:
// who changed it, when, how, the version after, and the record before and after (Before nil on
// create, After nil on delete).
type Revision[T Cell | Unit | Rule] struct {
	Seq     uint64 // store-wide, monotonically increasing (the change feed's sequence)
	Time    time.Time
	Actor   string
	Op      ChangeOp
	Version int64 // the version after the change
	Note    string
	Before  *T
	After   *T
}

// Change is one entry of a component's history: who changed what, when, before and after.
type Change struct {
	Seq     uint64 // store-wide, monotonically increasing
	Time    time.Time
	Actor   string
	Op      ChangeOp
	Version int64      // the version after the change
	Note    string     // why, when the writer said: a retirement's or a restore's note
	Before  *Component // nil on create
	After   *Component
}
