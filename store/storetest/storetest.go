// Package storetest is the conformance suite that every registry.Store runs (store/bolt,
// store/postgres). It checks the contract written on registry.Store, plus what the stores
// promise beyond it: keys below 2^53 that survive a restart and are never reused, identifier
// assignment from per district+class serials, history with before- and after-images (of
// components, and of units and rules with the actor, also after a delete), that
// a failed or cancelled write leaves nothing behind, and, for stores that implement
// registry.ChangeFeed, that every write appears in the feed with its actor and the current
// record.
//
// A store's test is one line:
//
//	storetest.Run(t, func(t *testing.T) storetest.Harness { … })
//
// Stores may round times to microseconds (PostgreSQL does), but what a Put returns must equal
// what is read back afterwards.
//
// The cases are filed by what they test: cell.go, component.go (records, identifiers,
// versions, history), unit.go (units and rules), failure.go (a failed or cancelled write
// leaves nothing behind), feed.go (change seqs and the change feed); helpers.go holds the
// test data and the helpers they share.
package storetest

import (
	"testing"

	"citygrid/registry"
)

// Harness gives the suite a fresh, empty database for one subtest.
type Harness struct {
	// Open opens a store on the harness's database. Every call opens the same database, so
	// the suite can close a store and open it again to check what was persisted. The harness
	// closes every store it opened when t ends; the suite may already have closed it, so Close
	// must be safe to call twice.
	Open func(t *testing.T) registry.Store
	// DropSerials deletes every stored serial counter, as a restore without them would, while
	// no store of the harness is open. The identifiers stay stored.
	DropSerials func(t *testing.T)
}

// Run runs every case of the suite as a subtest of t, calling newHarness once per subtest so
// that each case starts with an empty database.
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.run(t, newHarness(t))
		})
	}
}

var cases = []struct {
	name string
	run  func(*testing.T, Harness)
}{
	{"CellsRoundTrip", testCellsRoundTrip},
	{"ComponentsRoundTrip", testComponentsRoundTrip},
	{"ComponentAttributes", testComponentAttributes},
	{"UnitsRoundTrip", testUnitsRoundTrip},
	{"RulesRoundTrip", testRulesRoundTrip},
	{"KeysStableAfterReopen", testKeysStableAfterReopen},
	{"LookupByLegacyID", testLookupByLegacyID},
	{"AssignIDs", testAssignIDs},
	{"AssignIDsSkipTakenSerials", testAssignIDsSkipTaken},
	{"AssignIDsWrapAround", testAssignIDsWrapAround},
	{"DuplicateIDInBatch", testDuplicateIDInBatch},
	{"StaleVersion", testStaleVersion},
	{"UpdateWithVersion", testUpdateWithVersion},
	{"Retire", testRetire},
	{"HistoryNotes", testHistoryNotes},
	{"History", testHistory},
	{"FailedImportLeavesNothing/stale_version", failedImport(spoilStale, registry.ErrVersionConflict)},
	{"FailedImportLeavesNothing/duplicate", failedImport(spoilDuplicate, registry.ErrDuplicate)},
	{"FailedImportLeavesNothing/no_cell_to_assign_an_ID_from", failedImport(spoilNoCell, registry.ErrInvalidInput)},
	{"ReopenYieldsIdenticalRecords", testReopenYieldsIdentical},
	{"PutCellsReplace", testPutCellsReplace},
	{"CellHistory", testCellHistory},
	{"ReviseCells", testReviseCells},
	{"ReviseCellsAtomic", testReviseCellsAtomic},
	{"PutRulesReplace", testPutRulesReplace},
	{"DeleteNotFound", testDeleteNotFound},
	{"UnitHistory", testUnitHistory},
	{"RuleHistory", testRuleHistory},
	{"CancelledContext", testCancelledContext},
	{"ChangeSeqIncreasing", testChangeSeqIncreasing},
	{"ChangeFeed", testChangeFeed},
	{"ImportUnchanged", testImportUnchanged},
}
