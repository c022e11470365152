package registry

// Every stable code citygrid answers with, in one place: the "code" of a problem document,
// of a per-position error in a lookup batch, and of a problem in a census report. They are
// the API contract (README.md, "HTTP API" and "Import formats"): a code is never renamed and
// never changes its meaning; a new case of an existing meaning reuses its code. Each value is
// unique and snake_case (codes_test.go checks both, and that the README names every code a
// client can receive).
//
// A census problem found in a single write (POST/PATCH of a component, PUT of a cell, unit or
// rule) is answered as a 400 with the same code, so the report codes below are HTTP codes too.

// Lookups and reads that find nothing (404).
const (
	CodeCellNotFound      = "cell_not_found"      // no stored cell has the code (ErrCellNotFound)
	CodeComponentNotFound = "component_not_found" // no stored component has the identifier (ErrComponentNotFound)
	CodeUnitNotFound      = "unit_not_found"      // no stored unit has the id (ErrUnitNotFound)
	CodeRuleNotFound      = "rule_not_found"      // no stored rule has the id (ErrRuleNotFound)
	CodeClassNotFound     = "class_not_found"     // the class is not in the catalogue of that kind (ErrClassNotFound)
	CodeOutsideGrid       = "outside_grid"        // a point (a lookup, a component) lies outside every grid cell (ErrOutsideGrid)
	// CodeNoResponsibleUnit: nothing (component, rule, district or city centre) answers for a
	// point (ErrNoUnit). Internal: a lookup answers it as 200 with "unit":null, rule kind "none".
	CodeNoResponsibleUnit = "no_responsible_unit"
)

// Domain errors of invalid input (400), raised by the registry and its parsers.
const (
	CodeInvalidPoint         = "invalid_point"          // lon/lat missing, not finite or out of range (ErrInvalidPoint)
	CodeInvalidComponentCode = "invalid_component_code" // not a 17-digit or legacy 16-digit component identifier (ErrInvalidComponentCode)
	CodeInvalidGridCode      = "invalid_grid_code"      // not a 15-character or legacy 14-digit cell code, or not a code prefix (ErrInvalidGridCode)
	CodeInvalidClass         = "invalid_class"          // a class code that is not 5 or 4 digits, or a bad class kind (ErrInvalidClass)
	CodeUnknownClass         = "unknown_class"          // a well-formed class that is not in the catalogue (ErrUnknownClass)
	CodeUnmappedClass        = "unmapped_class"         // a legacy class without a GB/T 47678.5-2026 counterpart (ErrUnmappedClass)
	CodeInvalidStatus        = "invalid_status"         // a status other than intact, damaged, lost, abandoned or removed (ErrInvalidStatus)
	CodeInvalidGeometry      = "invalid_geometry"       // malformed geometry (JSON or WKT) or a non-finite coordinate (ErrInvalidGeometry)
	CodeInvalidCRS           = "invalid_crs"            // a crs other than wgs84, cgcs2000, gcj02 or bd09, a file's foreign CRS, a crs member contradicting the crs asked, or crs= on a route without coordinates (ErrInvalidCRS)
	CodeInvalidInput         = "invalid_input"          // a malformed request or document, when no narrower code fits (ErrInvalidInput)
	CodeInvalidCursor        = "invalid_cursor"         // a listing cursor this API did not hand out (ErrInvalidCursor)
	CodeInvalidMode          = "invalid_mode"           // an import mode other than strict, partial or replace
	CodeInvalidKind          = "invalid_kind"           // a census kind, class kind or rule kind that is not one of the documented ones
	CodeInvalidUnitType      = "invalid_unit_type"      // a unit type that is not one of the five documented ones
	CodeUnknownUnit          = "unknown_unit"           // a rule's unit, or a unit's parent or supervisor, that does not exist
	CodeClassImmutable       = "class_immutable"        // a PATCH that changes a component's class (its identifier encodes it)
	CodeOverlappingCells     = "overlapping_cells"      // a cell that overlaps another cell
	CodeImportRejected       = "import_rejected"        // a census import that stored nothing; 422 with the report (ErrImportRejected)
	CodeEmptyCensus          = "empty_census"           // a census document with no features or entries; 422 with the report (ErrEmptyCensus)

	// CodeInvalidUnit: Service.PutUnit of a unit without an id, a name or a type. Not answered
	// over HTTP, which checks the entry as a units document first (missing_field).
	CodeInvalidUnit = "invalid_unit"
	// CodeInvalidRule: Service.PutRule of a rule without an id or a unit. Not answered over
	// HTTP, which checks the entry as a rules document first (missing_field).
	CodeInvalidRule = "invalid_rule"
)

// Domain conflicts (409).
const (
	CodeVersionConflict  = "version_conflict"  // If-Match (or the version given) is not the stored version (ErrVersionConflict)
	CodeDuplicate        = "duplicate"         // a record with this identifier already exists, or one is named twice in a write (ErrDuplicate)
	CodeUnitInUse        = "unit_in_use"       // a unit deleted while a rule or another unit refers to it
	CodeSerialsExhausted = "serials_exhausted" // no serial is left to assign under a component's district and class
	// CodeComponentRetired: an edit of a retired component's status (or a retire of a retired
	// one with a note); a retired component comes back only through POST …/{id}/restore.
	CodeComponentRetired = "component_retired"
	// CodeNotRetired: POST …/{id}/restore of a component that is not retired.
	CodeNotRetired = "not_retired"
	// CodeClassExists: a local class whose kind and code exist already, or repeat in the file.
	// Internal: local classes are loaded at start-up, never over HTTP.
	CodeClassExists = "class_exists"
)

// Domain errors of size and availability, and the catch-all.
const (
	// CodeTooLarge: a units or rules document above its size limit (413). `citygrid import`
	// only: serve's census upload limit is the same 64 MiB, so HTTP answers body_too_large first.
	CodeTooLarge         = "too_large"
	CodeStoreUnavailable = "store_unavailable" // the database cannot be reached; nothing changed, retry (503, ErrStoreUnavailable)
	CodeCommitUnknown    = "commit_unknown"    // the connection broke while committing: the write may be stored (503, ErrCommitUnknown)
	CodeInternal         = "internal"          // anything unclassified (500; ErrorCode of an error that is not an *Error)
	// CodeConverterMissing: a Shapefile or GeoPackage import needs GDAL's ogr2ogr, which is not
	// installed (503; the message names the Debian package, gdal-bin).
	CodeConverterMissing = "converter_missing"
)

// Census report problems: what a reader, a decoder or an import finds wrong with one record.
// Reports also carry domain codes above: invalid_geometry, invalid_grid_code,
// invalid_component_code, invalid_class, unknown_class, unmapped_class, invalid_status,
// invalid_unit_type, invalid_kind, unknown_unit, outside_grid and overlapping_cells.
const (
	// Records (Feature.Err, set by the format readers).
	CodeInvalidJSON        = "invalid_json"        // the record is not well-formed JSON
	CodeInvalidFeature     = "invalid_feature"     // well-formed JSON, but not a GeoJSON Feature
	CodeInvalidCoordinates = "invalid_coordinates" // NaN/Inf or out-of-range lon/lat
	CodeInvalidRow         = "invalid_row"         // a CSV row that cannot be split into the header's fields
	CodeLineTooLong        = "line_too_long"       // an NDJSON line above the reader's line limit

	// Geometry (ValidatePolygonal and the census decoders).
	CodeInvalidGeometryType = "invalid_geometry_type" // not the geometry type the record needs
	CodeEmptyGeometry       = "empty_geometry"        // a polygonal geometry without polygons or rings
	CodeTooFewPoints        = "too_few_points"        // a ring with fewer than 4 positions (3 distinct corners + closing)
	CodeUnclosedRing        = "unclosed_ring"         // a ring whose last position differs from its first
	CodeSelfIntersection    = "self_intersection"     // two edges of one ring cross or touch
	CodeZeroArea            = "zero_area"             // a ring that encloses nothing
	CodeHoleOutside         = "hole_outside"          // a hole not inside its polygon's exterior ring

	// Fields, shared by the decoders.
	CodeMissingField      = "missing_field"      // a required property is absent or empty
	CodeConflictingValues = "conflicting_values" // two names of one field (or the feature id and the id property) disagree
	CodeTooLong           = "too_long"           // text above the field's length limit (in characters)
	CodeInvalidDate       = "invalid_date"       // not YYYY-MM-DD, YYYYMMDD or RFC 3339
	// CodeInvalidEncoding: text that is not UTF-8, typically a GBK-encoded CSV; over HTTP also a
	// path or query value that is not UTF-8 once unescaped (400).
	CodeInvalidEncoding = "invalid_encoding"

	// Components.
	CodeIDClassMismatch     = "id_class_mismatch"     // the identifier's class digits are not the given class
	CodeLegacyIDMismatch    = "legacy_id_mismatch"    // legacy_id does not convert to id
	CodeLegacyClassMismatch = "legacy_class_mismatch" // legacy_class does not map to class
	CodeDistrictMismatch    = "district_mismatch"     // the identifier's district is not the district of the component's cell
	CodeDuplicateID         = "duplicate_id"          // an id that an earlier entry (component, unit or rule) already has
	// CodeInvalidAttribute: an attribute (a property outside the standard) with an empty name,
	// a name that is a component property, or a value that is not JSON; an "attributes" member
	// that is not an object.
	CodeInvalidAttribute  = "invalid_attribute"
	CodeTooManyAttributes = "too_many_attributes" // more attributes than MaxAttributes, or more bytes than MaxAttributesSize
	// CodeUnknownUnitName: a warning, refusing nothing: a component's maintainer or owner names
	// no stored unit, neither by its id nor by its name (such a maintainer is never responsible).
	CodeUnknownUnitName = "unknown_unit_name"

	// Cells.
	CodeDuplicateCode         = "duplicate_code"          // a cell code that an earlier feature already has
	CodeComponentsOutsideCell = "components_outside_cell" // a new cell geometry would leave stored components outside it
	CodeCellTooLarge          = "cell_too_large"          // a cell whose area is above the limit (default 1 km², -max-cell-area)
	CodeUnknownDistrict       = "unknown_district"        // a cell code whose first 6 digits are not a district of the 2023 administrative code table
	CodeCellOutsideArea       = "cell_outside_area"       // a cell in a grid revision (mode replace) whose code is not under the revised area
	CodeStrandedComponent     = "stranded_component"      // a grid revision that would leave a component of the area in no cell of the new grid
	// CodeCellRetired: a write (import or PUT, 409) naming a retired cell's code outside a grid
	// revision of its area, which is the only way a retired code comes back.
	CodeCellRetired = "cell_retired"
	// CodeCellOutsideDistrict (a warning, refuses nothing): the cell's centroid lies outside the
	// boundary of its district in the file given with -boundaries.
	CodeCellOutsideDistrict = "cell_outside_district"

	// Unit and rule documents.
	CodeInvalidEntry        = "invalid_entry"         // an entry that is not an object of the documented fields
	CodeInvalidDistrict     = "invalid_district"      // not a 6-digit district code
	CodeInvalidReference    = "invalid_reference"     // a unit naming itself as parent or supervisor
	CodeParentCycle         = "parent_cycle"          // units whose parents lead back to themselves
	CodeInvalidSupervisor   = "invalid_supervisor"    // a supervisor that is not an admin department
	CodeInvalidClassPattern = "invalid_class_pattern" // a rule class that is not *, NN, NN*, NNNN or NNNNN
	// CodeInvalidArea: a rule area that is not a code prefix of 6, 9, 12, 14 or 15 characters;
	// a grid revision (cells, mode replace) without an area or with one that is not a district,
	// street or community code (6, 9 or 12 digits).
	CodeInvalidArea = "invalid_area"
	CodeUnknownArea = "unknown_area" // a rule area that no stored grid cell's code is or starts with

	// Warnings about the whole input.
	CodeRuleAreaEmpty       = "rule_area_empty"       // a grid revision leaves a rule's area without an active cell: a warning
	CodeCellPropertyIgnored = "cell_property_ignored" // a property of a cells census that no cell keeps (a QGIS fid, a perimeter): a warning
	CodeCRSOverridden       = "crs_overridden"        // a lon/lat GeoJSON crs member (EPSG:4326…) read as the gcj02 or bd09 the import asked for
)

// Census report warnings: what an import fixed up or guessed, refusing nothing.
const (
	CodeEncodingDetected = "encoding_detected" // a CSV/TSV (or a .dbf without .cpg) that is not UTF-8 was read as GB18030 (GBK); give the encoding to say otherwise
	CodeClassCodePadded  = "class_code_padded" // a class that lost its leading zero (Excel: 1037) was read as the one catalogue class it can be (01037)
)

// HTTP-level codes: raised by package api for what only HTTP has (routes, methods, headers,
// query parameters, limits), not by the domain.
const (
	CodeNotFound             = "not_found"             // no such route, census kind or export kind (404)
	CodeMethodNotAllowed     = "method_not_allowed"    // the route exists, the method does not (405, with Allow)
	CodePreconditionRequired = "precondition_required" // a write that needs a version got neither If-Match nor a version (428); also registry.ErrPreconditionRequired
	CodeInvalidIfMatch       = "invalid_if_match"      // If-Match is neither an ETag of this API nor * (400)
	CodeBodyTooLarge         = "body_too_large"        // a request body over its limit, declared or read (413)
	CodeBodyTooSlow          = "body_too_slow"         // a census upload whose body pauses too long, comes too slowly or not in time (408)
	CodeTooManyPoints        = "too_many_points"       // a lookup batch above its number of positions (413)
	CodeInvalidActor         = "invalid_actor"         // X-Actor too long or not plain UTF-8 text (400)
	CodeNotReady             = "not_ready"             // the spatial index is still loading (503, Retry-After)
	CodeBusy                 = "busy"                  // the census import queue is full, or the node runs its most exports (503, Retry-After)
	CodeFeedUnavailable      = "feed_unavailable"      // the store keeps no change feed (503)
	CodeCanceled             = "canceled"              // the client went away, the server is shutting down, or a census upload ran past its time limit (503)
	CodeInvalidBBox          = "invalid_bbox"          // bbox missing or not four finite WGS84 degrees with min <= max (400)
	CodeBBoxTooLarge         = "bbox_too_large"        // a listing bbox above its area without a cell prefix (400)
	CodeInvalidLimit         = "invalid_limit"         // limit not an integer in range (400)
	CodeInvalidK             = "invalid_k"             // nearest's k not an integer in range (400)
	CodeInvalidRadius        = "invalid_radius"        // nearest's radius not a number of metres in range (400)
	CodeInvalidFields        = "invalid_fields"        // lookup fields= naming anything but point, cell, unit, rule (400)
	CodeInvalidVersion       = "invalid_version"       // a version (property or ?version=) that is not a positive integer (400)
	CodeInvalidSince         = "invalid_since"         // the change feed's since or Last-Event-ID not a sequence number (400)
	CodeInvalidFormat        = "invalid_format"        // a census format other than geojson, ndjson, csv, tsv, shp (a zip) or gpkg, or shp/gpkg for another body (400)
	CodeInvalidStandard      = "invalid_standard"      // a class standard other than gb47678-2026, legacy or local (400)
	CodeCodeMismatch         = "code_mismatch"         // a cell body naming another code than the path (400)
	CodeIDMismatch           = "id_mismatch"           // a unit or rule body naming another id than the path (400)
)
