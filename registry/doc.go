// Package registry is citygrid's domain: the records of digital urban management (数字城管),
// the rules that keep them valid, and the interfaces through which they are stored and
// indexed. It imports only the standard library and orb, and no other package of citygrid.
//
// # Classes
//
// A component (管理部件) or an event (事件, 管理事项) has a class. The Catalog holds the
// GB/T 47678.5-2026 directory (5 digits: a 2-digit major class and 3 digits), the legacy
// 4-digit tables of GB/T 30428.2-2013 / CJ/T 214-2007 with their mapping to 2026 classes, and a
// city's own local classes (LoadLocalClasses). ResolveComponentClass turns what a census
// names into the stored pair (Class, LegacyClass); a legacy class without a 2026 counterpart
// is ErrUnmappedClass.
//
// # Cells and grid codes
//
// A Cell is a unit grid cell (单元网格, about 100 m × 100 m): a GridCode of 15 characters
// (GB/T 47678.3: 6 district + 3 street + 3 community + 3 serial) or a legacy 14-digit code, a
// MultiPolygon in WGS84/CGCS2000 lon/lat degrees and its geodesic Area in m². Cells never
// overlap, and a cell is never deleted; a cell may be replaced only by a geometry that still
// holds every component located in it.
//
// # Components and identifiers
//
// A Component has a ComponentCode: 6-digit district + 5-digit class + 6-digit serial = 17
// digits (GB/T 47678.5-2026), or the legacy 16 digits with a 4-digit class, kept as LegacyID
// when a legacy census is imported. Its Cell is always computed from its Point, and an
// identifier's district must be that cell's. A component stored without an identifier gets
// one from its cell's district, its class and the next free serial of that prefix
// (AssignIDs); identifiers are never reused. A component is never deleted: it is
// retired (StatusRemoved), and its History keeps every change with before- and after-images.
// Records that can be edited carry a Version; a write that names a stale one fails with
// ErrVersionConflict. Cells and components also have a store-assigned Key below 2^53.
//
// # Units and rules
//
// A Unit is an organisation in the responsibility chain: city and district centres, admin
// departments, public service units, district governments, with a parent and a supervising
// admin department. A Rule sends reports of a class inside an area to a unit; rules are data,
// the first match in Order wins. Who is responsible for a point is answered by the spatial
// index: a nearby component's maintainer, then the rules, then the district and city centres.
//
// # Census formats and validation
//
// A census (Census: cells, components, units, rules) is read from GeoJSON, newline-delimited
// GeoJSON or CSV for cells and components (Format, DetectFormat, ReadFeatures) and from a
// JSON document for units and rules. Every feature is validated (DecodeCell, DecodeComponent,
// DecodeUnits, DecodeRules, the catalogue, the grid) and the outcome is a Report listing each
// Problem by feature. Strict mode (the default) stores nothing when any feature is invalid;
// partial mode stores the valid ones. An import that stores nothing is ErrImportRejected
// (ErrEmptyCensus for a document without features). ImportOptions make it a dry run (every
// import writes through one hook, Service.write, which a dry run stops at), hand each refused
// feature over (Rejected), and report progress (Progress follows it in records); valid
// components equal to the stored ones are left as they are (SameStoredComponent).
//
// # Store and Index
//
// Store is what persists the registry; every write is one transaction that stores all or
// nothing (store/bolt, store/postgres; store/storetest is the suite both pass). A store may
// also keep a ChangeFeed, the store-wide sequence of every write, which other nodes and
// systems follow. Index is what the Service needs of the in-memory spatial index
// (spatial.Index): which cell holds a point, which cells overlap, and the updates it applies.
//
// # Service
//
// The Service is the write path and the read path. Writes (Import, PutCell, CreateComponent,
// UpdateComponent, RetireComponent, PutUnit, PutRule, the deletes) are validated against the
// catalogue and the index, serialised, stored in one transaction and only then applied to the
// index. Reads of stored records (Component, ComponentsByKey, History, ForEachCell,
// ForEachComponent, Feed) go through it to the store. Where several nodes share a store, each
// loads its index (LoadIndex) and follows the change feed (Follow, WaitFollowing) to apply
// what the others write.
//
// Errors are *Error values with a Kind, which the API maps to one HTTP status each, and a
// stable snake_case Code that is part of the API contract.
package registry
