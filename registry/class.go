package registry

// ClassKind tells component classes (管理部件) from event/matter classes (事件 / 管理事项).
// Codes are only unique within a kind: 01001 is both a component and a matter.
type ClassKind string

const (
	KindComponent ClassKind = "component"
	KindEvent     ClassKind = "event"
)

// Standard names the code table a class belongs to.
type Standard string

const (
	StandardGB2026 Standard = "gb47678-2026" // GB/T 47678.5-2026, 2 + 3 digits, in force since 2026-07-01
	StandardLegacy Standard = "legacy"       // GB/T 30428.2-2013 / CJ/T 214-2007, 2 + 2 digits
	StandardLocal  Standard = "local"        // a city's own extension classes, added as data
)

// Class is one entry of the class catalogue.
type Class struct {
	Kind      ClassKind
	Standard  Standard
	Code      string // 5 digits (2026, local) or 4 digits (legacy, local legacy-style)
	Name      string // simplified Chinese, as the standard writes it
	Major     string // 2-digit major class
	MajorName string
	Uncertain bool   // the standards digest flags this row as doubtful (sources disagree or a gap)
	Note      string // why it is uncertain, or other provenance
	// For legacy classes: MapsTo is the GB/T 47678.5-2026 class with the same meaning;
	// NoCounterpart is set where the digest found none. Exactly one of the two is set for legacy
	// component rows; legacy event rows whose counterpart is ambiguous have neither (they
	// resolve to ErrUnmappedClass); 2026 rows have neither.
	MapsTo        string
	NoCounterpart bool
}

// Catalog is the class catalogue: the GB/T 47678.5-2026 directory, the legacy 4-digit tables,
// the legacy → 2026 mapping, and a city's local extension classes. It is safe for concurrent
// reads; AddLocal must not run concurrently with reads (load local classes at start).
type Catalog struct {
	catalogData
}

// The methods below are the catalogue's contract; their bodies live in catalog.go.
//
//	func DefaultCatalog() *Catalog                      // a fresh catalogue of the embedded national tables
//	func (c *Catalog) Lookup(kind ClassKind, code string) (Class, bool)   // 5-digit 2026/local or 4-digit legacy/local
//	func (c *Catalog) List(kind ClassKind, std Standard) []Class          // std "" = all standards; sorted by code
//	func (c *Catalog) ResolveComponentClass(code string) (current, legacy string, err error)
//	    // 5-digit known: (code, "", nil); 4-digit legacy mapped: (mapped, code, nil);
//	    // 4-digit legacy without counterpart: ("", code, ErrUnmappedClass);
//	    // well-formed but unknown: ErrUnknownClass; malformed: ErrInvalidClass.
//	    // Local extension classes resolve like national ones.
//	func (c *Catalog) ResolveEventClass(code string) (current, legacy string, err error)  // same for events/matters
//	func (c *Catalog) AddLocal(cl Class) error          // a city extension class (Standard = StandardLocal)
//	func LoadLocalClasses(r io.Reader) ([]Class, error) // JSON array of {kind, code, name, major, major_name, maps_to}
