package domain

import (
	"testing"

	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
)

func TestValidateCreditCode(t *testing.T) {
	tests := []struct {
		code string
		ok   bool
	}{
		{"91350100M000100Y43", true}, // the standard's published example
		{"52450105MJ00000018", true},
		{"91350100M000100Y44", false}, // wrong check character
		{"91350100M000100Y4", false},  // too short
		{"91350100I000100Y43", false}, // I is not in the alphabet
	}
	for _, tt := range tests {
		if err := ValidateCreditCode(tt.code); (err == nil) != tt.ok {
			t.Errorf("ValidateCreditCode(%q) = %v, want ok=%v", tt.code, err, tt.ok)
		}
	}
}

func TestTransitionActors(t *testing.T) {
	const (
		applied   = partnerv1.PartnerStatus_PARTNER_STATUS_APPLIED
		verified  = partnerv1.PartnerStatus_PARTNER_STATUS_VERIFIED
		active    = partnerv1.PartnerStatus_PARTNER_STATUS_ACTIVE
		dormant   = partnerv1.PartnerStatus_PARTNER_STATUS_DORMANT
		withdrawn = partnerv1.PartnerStatus_PARTNER_STATUS_WITHDRAWN
	)
	tests := []struct {
		from, to partnerv1.PartnerStatus
		ok, self bool
	}{
		{applied, verified, true, false},
		{verified, active, true, false},
		{active, dormant, true, true},
		{dormant, active, true, true},
		{applied, withdrawn, true, true},
		{active, withdrawn, true, true},
		{applied, active, false, false},
		{withdrawn, active, false, false},
		{withdrawn, withdrawn, false, false},
		{verified, dormant, false, false},
	}
	for _, tt := range tests {
		roles, self, ok := TransitionActors(tt.from, tt.to)
		if ok != tt.ok || self != tt.self || (ok && len(roles) == 0) {
			t.Errorf("%v → %v: ok=%v self=%v roles=%v; want ok=%v self=%v", tt.from, tt.to, ok, self, roles, tt.ok, tt.self)
		}
	}
}
