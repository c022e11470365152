package registry

import "errors"

// Kind classifies an error for callers; api maps each Kind to exactly one HTTP status.
type Kind uint8

const (
	Internal Kind = iota // anything not classified; shown to users as "internal error"
	Invalid
	NotFound
	Conflict
	Forbidden
	TooLarge
	Unavailable
	// Precondition: a write that replaces or removes a record needs the version it applies
	// to (If-Match) and was given none.
	Precondition
)

// Error is a domain error whose Code is part of the API contract.
type Error struct {
	Kind    Kind
	Code    string // stable snake_case, one of the Code constants (codes.go)
	Message string // safe to show to users
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Is reports whether target is an *Error with the same Code, so errors.Is works on sentinels.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Errorf returns a new *Error of kind k and code with a formatted message.
func Errorf(k Kind, code, format string, args ...any) *Error {
	return &Error{Kind: k, Code: code, Message: sprintf(format, args...)}
}

// ErrorCode returns err's registry Code, "" for nil, and CodeInternal for errors that are not *Error.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// ErrorKind returns err's Kind; Internal for errors that are not *Error.
func ErrorKind(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// Sentinel errors, built from the Code constants (codes.go): never rename one.
var (
	ErrCellNotFound      = &Error{Kind: NotFound, Code: CodeCellNotFound, Message: "grid cell not found"}
	ErrComponentNotFound = &Error{Kind: NotFound, Code: CodeComponentNotFound, Message: "component not found"}
	ErrUnitNotFound      = &Error{Kind: NotFound, Code: CodeUnitNotFound, Message: "unit not found"}
	ErrRuleNotFound      = &Error{Kind: NotFound, Code: CodeRuleNotFound, Message: "rule not found"}
	ErrClassNotFound     = &Error{Kind: NotFound, Code: CodeClassNotFound, Message: "class not found"}
	ErrOutsideGrid       = &Error{Kind: NotFound, Code: CodeOutsideGrid, Message: "the point lies outside every grid cell"}
	ErrNoUnit            = &Error{Kind: NotFound, Code: CodeNoResponsibleUnit, Message: "no unit is responsible and no fallback centre is registered"}

	// ErrStoreUnavailable: the database cannot be reached (it is restarting, or down); the
	// request changed nothing and can be sent again.
	ErrStoreUnavailable = &Error{Kind: Unavailable, Code: CodeStoreUnavailable, Message: "the database cannot be reached at the moment; try again"}
	// ErrCommitUnknown: the connection broke while a write was committing, so it may or may
	// not be stored; read it back, or repeat an idempotent request.
	ErrCommitUnknown = &Error{Kind: Unavailable, Code: CodeCommitUnknown, Message: "the database connection broke while the write was committing: it may or may not be stored"}

	ErrInvalidPoint         = &Error{Kind: Invalid, Code: CodeInvalidPoint, Message: "lon and lat must be finite numbers within range"}
	ErrInvalidComponentCode = &Error{Kind: Invalid, Code: CodeInvalidComponentCode, Message: "component identifier must be 17 digits (GB/T 47678.5) or 16 digits (legacy)"}
	ErrInvalidGridCode      = &Error{Kind: Invalid, Code: CodeInvalidGridCode, Message: "grid cell code must be 15 characters (GB/T 47678.3) or 14 digits (legacy)"}
	ErrInvalidClass         = &Error{Kind: Invalid, Code: CodeInvalidClass, Message: "class code must be 5 digits (GB/T 47678.5) or 4 digits (legacy)"}
	ErrUnknownClass         = &Error{Kind: Invalid, Code: CodeUnknownClass, Message: "class is not in the catalogue"}
	ErrUnmappedClass        = &Error{Kind: Invalid, Code: CodeUnmappedClass, Message: "legacy class has no GB/T 47678.5-2026 counterpart"}
	ErrInvalidStatus        = &Error{Kind: Invalid, Code: CodeInvalidStatus, Message: "status must be intact, damaged, lost, abandoned or removed"}
	ErrInvalidGeometry      = &Error{Kind: Invalid, Code: CodeInvalidGeometry, Message: "geometry is malformed"}
	ErrInvalidCRS           = &Error{Kind: Invalid, Code: CodeInvalidCRS, Message: "crs must be wgs84, cgcs2000, gcj02 or bd09"}
	ErrInvalidInput         = &Error{Kind: Invalid, Code: CodeInvalidInput, Message: "the request is malformed"}
	ErrInvalidCursor        = &Error{Kind: Invalid, Code: CodeInvalidCursor, Message: "cursor is malformed"}

	ErrVersionConflict = &Error{Kind: Conflict, Code: CodeVersionConflict, Message: "the record was changed by someone else; reload and retry"}
	ErrDuplicate       = &Error{Kind: Conflict, Code: CodeDuplicate, Message: "a record with this identifier already exists"}
	// ErrPreconditionRequired: a unit or rule write that replaces or removes a stored record
	// was given no version to apply to.
	ErrPreconditionRequired = &Error{Kind: Precondition, Code: CodePreconditionRequired, Message: `the record exists: send If-Match with its ETag (or *) so that concurrent edits are detected`}
	ErrImportRejected       = &Error{Kind: Invalid, Code: CodeImportRejected, Message: "the census import was rejected; see the report"}
	ErrEmptyCensus          = &Error{Kind: Invalid, Code: CodeEmptyCensus, Message: "the census holds no features (or entries): nothing to import"}
)
