package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"math"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/apierr"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/resource"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/services/demand/internal/domain"
)

// A demand staff record for a resident (at a meeting, on a door-knock, on the hotline) gets a
// follow-up code (回执码), shown to its recorder to print or read out. The resident claims it
// with ClaimDemand: from then on they raised it (raised_by), as if they had filed it online —
// it lists among their own, they read its timeline and its reporter's details, and they rate
// it. The code is the proof: a claim works wherever the resident's own scope is, and the
// demand is theirs to read, not their scope widened (seesDemand).

const (
	msgClaimed = "居民已凭回执码认领这条诉求，此后的办理进展本人可随时查看。"
	// maxMergeChain bounds the walk along demands merged into one another (MarkDuplicate).
	maxMergeChain = 16
)

// errWrongCode answers a code no demand has: NOT_FOUND, in the same words whatever the code,
// never repeating it.
var errWrongCode = func() error {
	st, err := status.New(codes.NotFound, "no demand has this follow-up code; check it, or ask the community that recorded the demand").
		WithDetails(&errdetails.ResourceInfo{ResourceType: "jiayuan.gov.cn/Demand", Description: "no demand has this follow-up code"})
	if err != nil {
		return status.Error(codes.NotFound, "no demand has this follow-up code")
	}
	return st.Err()
}()

// raisedByCaller reports whether the resident p raised d: recorded it themselves (filed it
// online) or claimed it. Only a claimed demand recorded by someone else costs a query.
func (s *Server) raisedByCaller(ctx context.Context, q sqlstore.Querier, p auth.Principal, d *demandv1.Demand) (bool, error) {
	if !isResident(p) {
		return false, nil
	}
	if d.GetRecorder() == p.Subject {
		return true, nil
	}
	if !d.GetClaimed() {
		return false, nil
	}
	by, err := s.store.DemandRaisedBy(ctx, q, d.GetName())
	if err != nil {
		return false, err
	}
	return by == p.Subject, nil
}

// claimantReads reports whether p is the resident who claimed d, and so reads its reporter as
// they would had they filed it (readsReporter covers the recorder). A failure to tell masks.
func (s *Server) claimantReads(ctx context.Context, p auth.Principal, d *demandv1.Demand) bool {
	if !isResident(p) || !d.GetClaimed() || d.GetRecorder() == p.Subject {
		return false
	}
	raised, err := s.raisedByCaller(ctx, s.db.Reads(), p, d)
	if err != nil {
		s.log.WarnContext(ctx, "could not tell whether the caller claimed the demand; its reporter is masked", "demand", d.GetName(), "error", err)
		return false
	}
	return raised
}

// ClaimDemand implements demandv1.DemandServiceServer.
func (s *Server) ClaimDemand(ctx context.Context, req *demandv1.ClaimDemandRequest) (*demandv1.ClaimDemandResponse, error) {
	code, err := domain.NormalizeFollowUpCode(req.GetFollowUpCode())
	if err != nil {
		// Bad input, not a guess: it could match no demand, so it does not count.
		return nil, apierr.InvalidArgument("follow_up_code", "must be the 12 digits of a follow-up code, grouped by spaces or hyphens or not")
	}
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	// The attempt counts before the code is looked at, so that concurrent guesses cannot all
	// pass on one count; a claim that succeeds, or fails for another reason than its code,
	// gives it back.
	attempt := aip.NewID()
	var wait time.Duration
	err = s.db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
		var err error
		wait, err = s.store.ReserveClaimAttempt(ctx, tx, p.Subject, attempt, s.now(), domain.ClaimWindow, domain.ClaimAttempts)
		return err
	})
	if err != nil {
		return nil, apierr.FromCall(err, "")
	}
	if wait > 0 {
		return nil, apierr.ResourceExhausted("TOO_MANY_CLAIMS",
			fmt.Sprintf("%d follow-up codes tried without success within %d minutes; try again in %d minutes",
				domain.ClaimAttempts, int(domain.ClaimWindow/time.Minute), int(math.Ceil(wait.Minutes()))), wait)
	}
	out, err := s.claim(ctx, code)
	if !wrongCode(err) {
		if rerr := s.store.ReleaseClaimAttempt(context.WithoutCancel(ctx), s.db, p.Subject, attempt); rerr != nil {
			// It only counts against the caller until it leaves the window.
			s.log.WarnContext(ctx, "a claim attempt was not given back", "error", rerr)
		}
	}
	if err != nil {
		return nil, err
	}
	return &demandv1.ClaimDemandResponse{Demand: out}, nil
}

// wrongCode reports whether a claim failed on its code (unknown, or spent by someone else):
// what the throttle counts.
func wrongCode(err error) bool {
	switch status.Code(err) {
	case codes.NotFound, codes.FailedPrecondition:
		return true
	}
	return false
}

// claim makes the caller the resident who raised the demand whose follow-up code is code (its
// digits).
func (s *Server) claim(ctx context.Context, code string) (*demandv1.Demand, error) {
	var raiser string
	// The demand's name is not in the request: Load finds it by its code, in the transaction,
	// so a refusal is recorded without a name and the claim's record names the demand.
	load := func(ctx context.Context, q sqlstore.Querier, p auth.Principal, _ string) (*demandv1.Demand, int64, error) {
		// Before the code is looked up: a refusal must not tell whether it was right.
		if !isResident(p) {
			return nil, 0, permissionDenied("claim a demand: residents claim what was recorded for them, signed in as residents")
		}
		name, err := s.store.DemandByFollowUpCode(ctx, q, code)
		if errors.Is(err, sqlstore.ErrNotFound) {
			return nil, 0, errWrongCode
		}
		if err != nil {
			return nil, 0, err
		}
		// Two residents claiming at once queue here; the second reads the first's claim.
		if err := s.store.LockDemand(ctx, q, name); err != nil {
			return nil, 0, err
		}
		d, v, err := s.store.GetDemand(ctx, q, name)
		if err != nil {
			return nil, 0, err
		}
		// The hash matched; the code itself must too.
		if subtle.ConstantTimeCompare([]byte(d.GetFollowUpCode()), []byte(code)) != 1 {
			return nil, 0, errWrongCode
		}
		if raiser, err = s.store.DemandRaisedBy(ctx, q, name); err != nil {
			return nil, 0, err
		}
		return d, v, nil
	}
	return resource.Run(ctx, s.res, resource.Change[*demandv1.Demand]{
		Method: demandv1.DemandService_ClaimDemand_FullMethodName,
		Load:   load,
		// Load refused everyone but residents; whoever holds the code may claim it.
		Allow: func(auth.Principal, *demandv1.Demand) error { return nil },
		Apply: func(ctx context.Context, t *resource.Tx, d *demandv1.Demand, v int64) (*demandv1.Demand, int64, error) {
			name, subject := d.GetName(), t.Caller.Subject
			switch raiser {
			case subject:
				// Claimed already, by the same resident: the same answer, nothing written.
				return d, v, nil
			case "":
			default:
				return nil, 0, apierr.FailedPrecondition("CODE_SPENT", "this follow-up code was used already, by another resident; ask the community that recorded the demand")
			}
			if err := s.store.SetClaimant(ctx, t, name, subject); err != nil {
				return nil, 0, err
			}
			// The reporter is not among the supporters: a resident who said "me too" to the
			// demand they raised is now its reporter.
			removed, err := s.store.RemoveSupporter(ctx, t, name, subject)
			if err != nil {
				return nil, 0, err
			}
			if removed && d.GetSupporterCount() > 0 {
				d.SupporterCount--
			}
			d.Claimed, d.UpdateTime = true, timestamppb.New(t.Now)
			version, err := s.store.UpdateDemand(ctx, t, d, v)
			if err != nil {
				return nil, 0, err
			}
			if err := s.store.AppendTimeline(ctx, t, s.entry(t, name, demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_CLAIM,
				d.GetStatus(), d.GetStatus(), msgClaimed)); err != nil {
				return nil, 0, err
			}
			if d.GetStatus() == demandv1.DemandStatus_DEMAND_STATUS_DUPLICATE && d.GetDuplicateOf() != "" {
				if err := s.supportMergedInto(ctx, t, d.GetDuplicateOf(), subject); err != nil {
					return nil, 0, err
				}
			}
			return d, version, nil
		},
		View: s.viewDemand,
	})
}

// supportMergedInto makes the claimant of a demand merged as a duplicate a supporter of the
// demand it was merged into (following further merges), as MarkDuplicate made the reporter of
// a demand filed online: they hear how the matter they raised is handled.
func (s *Server) supportMergedInto(ctx context.Context, t *resource.Tx, target, subject string) error {
	for range maxMergeChain {
		if err := s.store.LockDemand(ctx, t, target); err != nil {
			return err
		}
		d, v, err := s.store.GetDemand(ctx, t, target)
		if err != nil {
			return err
		}
		if d.GetStatus() == demandv1.DemandStatus_DEMAND_STATUS_DUPLICATE && d.GetDuplicateOf() != "" {
			target = d.GetDuplicateOf()
			continue
		}
		raiser, err := s.store.DemandRaisedBy(ctx, t, target)
		if err != nil || raiser == subject {
			return err
		}
		// The claimant raised it: they hear of the demand it was merged into, as its reporter would.
		added, err := s.store.AddSupporter(ctx, t, target, subject, true)
		if err != nil || !added {
			return err
		}
		d.SupporterCount++
		d.UpdateTime = timestamppb.New(t.Now)
		if _, err := s.store.UpdateDemand(ctx, t, d, v); err != nil {
			return err
		}
		return s.store.AppendTimeline(ctx, t, s.entry(t, target, demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_SUPPORT, 0, 0, msgSupported))
	}
	return fmt.Errorf("claim: more than %d demands merged one into another from %s", maxMergeChain, target)
}
