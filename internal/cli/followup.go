package cli

import (
	"github.com/jiayuan/jiayuan/internal/suite"
	"github.com/jiayuan/jiayuan/platform/config"
	"github.com/jiayuan/jiayuan/services/contract"
)

// The follow-up settings of the contract service (suite.Spec.FollowUp), and of `jiayuan dev`.
const (
	flagDueSoon  = "due-soon-workdays"
	flagInactive = "inactive-days"
	// The largest values taken: a warning further ahead, or a partner idle longer, is no
	// follow-up any more (and a typo such as 140 for 14 is caught).
	maxDueSoonWorkdays = 30
	maxInactiveDays    = 365
)

// followUpFlags are when the contract service's sweeper warns.
type followUpFlags struct {
	dueSoon, inactive *int
}

// register declares the flags.
func (f *followUpFlags) register(fs *config.FlagSet) {
	f.dueSoon = fs.Int(flagDueSoon, contract.DefaultDueSoonWorkdays,
		"a one-off contract duty raises a due-soon alert this many working days (the rules file's calendar) before its date")
	f.inactive = fs.Int(flagInactive, contract.DefaultInactiveDays,
		"a partner of an active contract with no activity or fulfilment recorded for this many days raises an inactive-partner alert")
}

// check reports the invalid settings after Parse.
func (f *followUpFlags) check(p *config.Problems) {
	if *f.dueSoon < 1 || *f.dueSoon > maxDueSoonWorkdays {
		p.Addf(flagDueSoon, "%d: want 1 to %d working days", *f.dueSoon, maxDueSoonWorkdays)
	}
	if *f.inactive < 1 || *f.inactive > maxInactiveDays {
		p.Addf(flagInactive, "%d: want 1 to %d days", *f.inactive, maxInactiveDays)
	}
}

// settings are the checked values.
func (f *followUpFlags) settings() suite.FollowUp {
	return suite.FollowUp{DueSoonWorkdays: *f.dueSoon, InactiveDays: *f.inactive}
}
