package domain

import (
	"testing"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
)

func TestTakesPhotos(t *testing.T) {
	for v := range demandv1.DemandStatus_name {
		s := demandv1.DemandStatus(v)
		want := s != demandv1.DemandStatus_DEMAND_STATUS_CLOSED && s != demandv1.DemandStatus_DEMAND_STATUS_DUPLICATE
		if got := TakesPhotos(s); got != want {
			t.Errorf("TakesPhotos(%s) = %v, want %v", s, got, want)
		}
	}
	for _, s := range []demandv1.DemandStatus{demandv1.DemandStatus_DEMAND_STATUS_SUBMITTED, demandv1.DemandStatus_DEMAND_STATUS_RESOLVED} {
		if !TakesPhotos(s) {
			t.Errorf("a %s demand takes no photos", s)
		}
	}
}
