// Package domain holds the demand service's rules: how demands and projects move along their
// lifecycles, the 逢四说事 calendar, how alike two demands read, and how well a partner fits a
// project. Everything here is a pure function of its arguments.
package domain

import (
	"slices"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	"github.com/jiayuan/jiayuan/platform/auth"
)

const (
	submitted        = demandv1.DemandStatus_DEMAND_STATUS_SUBMITTED
	accepted         = demandv1.DemandStatus_DEMAND_STATUS_ACCEPTED
	rejected         = demandv1.DemandStatus_DEMAND_STATUS_REJECTED
	inProject        = demandv1.DemandStatus_DEMAND_STATUS_IN_PROJECT
	inCase           = demandv1.DemandStatus_DEMAND_STATUS_IN_CASE
	resolved         = demandv1.DemandStatus_DEMAND_STATUS_RESOLVED
	closedUnresolved = demandv1.DemandStatus_DEMAND_STATUS_CLOSED_UNRESOLVED
	closed           = demandv1.DemandStatus_DEMAND_STATUS_CLOSED
	duplicate        = demandv1.DemandStatus_DEMAND_STATUS_DUPLICATE
)

type demandMove struct{ from, to demandv1.DemandStatus }

// demandMoves are the moves ChangeDemandStatus makes; the value says whether only a PROBLEM may
// make it. IN_PROJECT is entered only by gathering a demand into a project, and DUPLICATE only
// by MarkDuplicate, so neither is a target here. A demand IN_CASE leaves it only as its case
// says (the escalation service's feed, CaseMove), never by hand. RESOLVED, CLOSED_UNRESOLVED and REJECTED may be
// reopened (back to ACCEPTED); CLOSED and DUPLICATE are final.
var demandMoves = map[demandMove]bool{
	{submitted, accepted}:         false,
	{submitted, rejected}:         false,
	{accepted, inCase}:            true,
	{accepted, resolved}:          false,
	{accepted, closedUnresolved}:  false,
	{accepted, rejected}:          false,
	{inProject, resolved}:         false,
	{inProject, closedUnresolved}: false,
	{resolved, closed}:            false,
	{resolved, accepted}:          false,
	{closedUnresolved, closed}:    false,
	{closedUnresolved, accepted}:  false,
	{rejected, accepted}:          false,
}

// DemandMoveAllowed reports whether ChangeDemandStatus may move a demand of kind from one status
// to another. Only a PROBLEM is handled as a case (IN_CASE); a NEED is gathered into a project.
func DemandMoveAllowed(kind demandv1.DemandKind, from, to demandv1.DemandStatus) bool {
	problemOnly, ok := demandMoves[demandMove{from, to}]
	if !ok {
		return false
	}
	return !problemOnly || kind == demandv1.DemandKind_DEMAND_KIND_PROBLEM
}

// DemandMovers returns the roles that may move a demand from one status to another, or nil when
// no kind of demand makes that move. Grid workers take in what they hear on their rounds, so
// they may accept a submitted demand; everything after that is for community staff and above.
func DemandMovers(from, to demandv1.DemandStatus) []auth.Role {
	if _, ok := demandMoves[demandMove{from, to}]; !ok {
		return nil
	}
	// Officials (auth.Managers) make every move within their region scope (checked by the caller).
	roles := auth.Managers()
	if from == submitted && to == accepted {
		roles = append(roles, auth.RoleGridWorker)
	}
	return roles
}

// ReasonRequired reports whether a move to s must say why: the resident is told no.
func ReasonRequired(s demandv1.DemandStatus) bool {
	return s == rejected || s == closedUnresolved
}

// Open reports whether a demand in s is still being worked on: it counts in the backlog and can
// be supported ("me too").
func Open(s demandv1.DemandStatus) bool {
	return s == submitted || s == accepted || s == inProject || s == inCase
}

// Rateable reports whether the resident may rate a demand in s: once it has an outcome.
func Rateable(s demandv1.DemandStatus) bool {
	return s == resolved || s == closedUnresolved || s == closed
}

// StartsResolution reports whether a move to s gives the demand a new outcome, which the
// resident rates anew: RESOLVED or CLOSED_UNRESOLVED, entered from work in progress. Closing for
// good (CLOSED) keeps the outcome, and its rating.
func StartsResolution(s demandv1.DemandStatus) bool {
	return s == resolved || s == closedUnresolved
}

// Reopens reports whether a rating sends the demand back to work: UNSATISFIED does; SATISFIED
// and BASICALLY_SATISFIED keep the outcome.
func Reopens(r demandv1.Rating) bool {
	return r == demandv1.Rating_RATING_UNSATISFIED
}

// Duplicable reports whether a demand in s may be marked a duplicate: only before work on it
// started, so no project or case loses a demand it is handling.
func Duplicable(s demandv1.DemandStatus) bool {
	return s == submitted || s == accepted
}

const (
	proposed        = demandv1.ProjectStatus_PROJECT_STATUS_PROPOSED
	approved        = demandv1.ProjectStatus_PROJECT_STATUS_APPROVED
	matching        = demandv1.ProjectStatus_PROJECT_STATUS_MATCHING
	contractPending = demandv1.ProjectStatus_PROJECT_STATUS_CONTRACT_PENDING
	contracted      = demandv1.ProjectStatus_PROJECT_STATUS_CONTRACTED
	delivering      = demandv1.ProjectStatus_PROJECT_STATUS_DELIVERING
	completed       = demandv1.ProjectStatus_PROJECT_STATUS_COMPLETED
	cancelled       = demandv1.ProjectStatus_PROJECT_STATUS_CANCELLED
	contractExpired = demandv1.ProjectStatus_PROJECT_STATUS_CONTRACT_EXPIRED
)

// projectMoves are the moves ChangeProjectStatus makes. CONTRACT_PENDING is entered only by
// AcceptMatch; from it a failed negotiation goes back to MATCHING. CONTRACT_EXPIRED is entered
// only from the contract service's feed; from it the community's staff close the project by
// hand (COMPLETED: it served its term; CANCELLED: dropped), or renew its contract.
var projectMoves = map[demandv1.ProjectStatus][]demandv1.ProjectStatus{
	proposed:        {approved, cancelled},
	approved:        {matching, cancelled},
	matching:        {approved, cancelled},
	contractPending: {contracted, matching, cancelled},
	contracted:      {delivering, cancelled},
	delivering:      {completed, cancelled},
	contractExpired: {completed, cancelled},
}

// ProjectMoveAllowed reports whether ChangeProjectStatus may move a project from one status to
// another. COMPLETED and CANCELLED are final.
func ProjectMoveAllowed(from, to demandv1.ProjectStatus) bool {
	return slices.Contains(projectMoves[from], to)
}

// ProjectEnded reports whether a project in s is over (COMPLETED or CANCELLED): its fields and
// its demands no longer change.
func ProjectEnded(s demandv1.ProjectStatus) bool {
	return s == completed || s == cancelled
}

// Matchable reports whether partners may be matched to a project in s.
func Matchable(s demandv1.ProjectStatus) bool {
	return s == approved || s == matching
}

// Committed reports whether a project in s holds its partners: it counts towards their load.
func Committed(s demandv1.ProjectStatus) bool {
	return s == contractPending || s == contracted || s == delivering
}

// DemandFollowsProject says what a gathered demand's status becomes when its project moves to
// to: COMPLETED resolves it; CANCELLED returns it to ACCEPTED, since the need is still unmet.
// Any other move leaves it IN_PROJECT (ok is false).
func DemandFollowsProject(to demandv1.ProjectStatus) (demandv1.DemandStatus, bool) {
	switch to {
	case completed:
		return resolved, true
	case cancelled:
		return accepted, true
	default:
		return demandv1.DemandStatus_DEMAND_STATUS_UNSPECIFIED, false
	}
}

var statusLabels = map[demandv1.DemandStatus]string{
	submitted:        "已提交",
	accepted:         "已受理",
	rejected:         "未受理",
	inProject:        "已纳入项目",
	inCase:           "办理中",
	resolved:         "已解决",
	closedUnresolved: "未解决办结",
	closed:           "已办结",
	duplicate:        "已合并",
}

// StatusLabel is the Chinese name of a demand status that residents read, e.g. "已受理"; empty
// for an unspecified or unknown status.
func StatusLabel(s demandv1.DemandStatus) string {
	return statusLabels[s]
}

var projectStatusLabels = map[demandv1.ProjectStatus]string{
	proposed:        "已立项待审",
	approved:        "已批准",
	matching:        "匹配中",
	contractPending: "待签约",
	contracted:      "已签约",
	delivering:      "实施中",
	completed:       "已完成",
	cancelled:       "已取消",
	contractExpired: "契约已到期",
}

// ProjectStatusLabel is the Chinese name of a project status, e.g. "匹配中"; empty for an
// unspecified or unknown status.
func ProjectStatusLabel(s demandv1.ProjectStatus) string {
	return projectStatusLabels[s]
}

// CaseMove says what a demand's status becomes when its case (the escalation service) is in
// the given state — open: IN_CASE; resolved: RESOLVED; closed unresolved: CLOSED_UNRESOLVED —
// and whether the demand, now in from, follows (ok false: it stays, e.g. a demand closed for
// good or merged meanwhile). These moves are the case's, not ChangeDemandStatus's.
func CaseMove(from demandv1.DemandStatus, caseOpen, caseResolved bool) (to demandv1.DemandStatus, ok bool) {
	switch {
	case caseOpen:
		to = inCase
		ok = from == submitted || from == accepted || from == resolved || from == closedUnresolved
	case caseResolved:
		to = resolved
		ok = from == inCase || from == accepted || from == submitted
	default:
		to = closedUnresolved
		ok = from == inCase || from == accepted || from == submitted
	}
	return to, ok
}
