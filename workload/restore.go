package workload

// A restore swaps the live SQLite database and media store for a backup's
// in phases, each recorded in a journal on /data before its work starts,
// so that a restore killed at any point is found by the next hook and
// rolled back or completed (see workload/container/restore.go).
type RestorePhase string

// The phases, in order. A replace (SQLite) goes staged, moving-old,
// moving-new, swapped; a merge (media only, PostgreSQL) goes staged,
// merging, swapped.
const (
	// RestoreStaged: the backup is extracted beside the live data, which
	// is untouched; Synapse may have been stopped.
	RestoreStaged RestorePhase = "staged"
	// RestoreMovingOld: the live database (with its WAL) and media store
	// are being moved aside; some may be gone from their place.
	RestoreMovingOld RestorePhase = "moving-old"
	// RestoreMovingNew: the live data is all aside; the staged database
	// and media store are being moved into place.
	RestoreMovingNew RestorePhase = "moving-new"
	// RestoreMerging: staged media files are being added to the live
	// media store (PostgreSQL: the database is not restored).
	RestoreMerging RestorePhase = "merging"
	// RestoreSwapped: the restored data is in place; what it replaced and
	// the staging directory are being removed.
	RestoreSwapped RestorePhase = "swapped"
	// RestoreLeftover: no journal, but a staging or backup scratch
	// directory that a killed action left (the live data was never
	// touched).
	RestoreLeftover RestorePhase = "leftover"
)

// RestoreRecovery is what the next hook does with a restore found half
// done.
type RestoreRecovery string

// Recoveries.
const (
	// RestoreRollBack moves the previous data back into place (whatever
	// of it was moved) and discards the staged backup.
	RestoreRollBack RestoreRecovery = "roll back"
	// RestoreComplete finishes the swap from where it stopped.
	RestoreComplete RestoreRecovery = "complete"
)

// Recovery is what a restore interrupted in this phase needs: before the
// previous data is all aside it is rolled back (the operator's action
// failed, so nothing changed); from then on the backup is completed,
// since every piece of it is staged. ok is false for a phase this charm
// does not know (a journal from a newer revision).
func (p RestorePhase) Recovery() (RestoreRecovery, bool) {
	switch p {
	case RestoreStaged, RestoreMovingOld, RestoreLeftover:
		return RestoreRollBack, true
	case RestoreMovingNew, RestoreMerging, RestoreSwapped:
		return RestoreComplete, true
	}
	return "", false
}
