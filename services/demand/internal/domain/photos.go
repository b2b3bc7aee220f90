package domain

import demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"

// MaxPhotos is how many photos one demand may have, as many as attachment_urls' links: enough
// to show a problem from every side, not a place to keep an album.
const MaxPhotos = 10

// TakesPhotos reports whether photos may still be attached to a demand in s: at any point of its
// life (a resident shows the roof still leaks after it was resolved) until it is final — CLOSED
// for good, or DUPLICATE, whose photos belong on the demand it was merged into.
func TakesPhotos(s demandv1.DemandStatus) bool {
	return s != demandv1.DemandStatus_DEMAND_STATUS_CLOSED && s != demandv1.DemandStatus_DEMAND_STATUS_DUPLICATE
}
