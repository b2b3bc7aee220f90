package api

import (
	"context"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	contractv1 "github.com/jiayuan/jiayuan/gen/jiayuan/contract/v1"
	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/apierr"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/calendar"
	"github.com/jiayuan/jiayuan/platform/resource"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/services/contract/internal/domain"
)

// fulfil records f (named, dated, its party set) against c (held, at version v): it counts into
// the terms in force, restarts the party's inactivity clock, and goes on the feed. field
// prefixes the names in errors.
func (s *Server) fulfil(ctx context.Context, t *resource.Tx, c *contractv1.Contract, v int64, f *contractv1.Fulfilment, field string) error {
	if c.GetStatus() != contractv1.ContractStatus_CONTRACT_STATUS_ACTIVE {
		return apierr.FailedPrecondition("CONTRACT_NOT_ACTIVE", c.GetName()+" is "+statusWord(c.GetStatus())+"; fulfilment is recorded on an active contract")
	}
	if !domain.IsParty(c, f.GetParty()) {
		return apierr.InvalidArgument(field+".party", f.GetParty()+" is not a party to "+c.GetName())
	}
	day, err := calendar.FromProto(f.GetDate())
	if err != nil {
		return apierr.InvalidArgument(field+".date", err.Error())
	}
	terms := domain.InForce(c).GetTerms()
	start, _, _ := domain.Period(terms, "terms")
	if day.Compare(calendar.DateOf(t.Now)) > 0 {
		return apierr.InvalidArgument(field+".date", day.String()+" is in the future")
	}
	if day.Compare(start) < 0 {
		return apierr.InvalidArgument(field+".date", day.String()+" is before the contract's start "+start.String())
	}
	first := true
	for _, d := range terms.GetDuties() {
		first = first && d.GetFulfilmentCount() == 0
	}
	for _, m := range terms.GetMilestones() {
		first = first && m.GetReachedDate() == nil
	}
	if err := domain.Fulfil(terms, f, field); err != nil {
		return err
	}
	domain.MarkActive(c, f.GetParty(), f.GetDate())
	if _, err := s.save(ctx, t, c, v, false); err != nil {
		return err
	}
	if err := s.store.InsertFulfilment(ctx, t, f); err != nil {
		return err
	}
	return t.Emit(ctx, c.GetName(), c.GetCommunityCode(), &contractv1.FulfilmentRecorded{
		Contract: c.GetName(), Project: c.GetProject(), CommunityCode: c.GetCommunityCode(), Fulfilment: f, First: first,
	})
}

// RecordFulfilment implements contractv1.ContractServiceServer.
func (s *Server) RecordFulfilment(ctx context.Context, req *contractv1.RecordFulfilmentRequest) (*contractv1.RecordFulfilmentResponse, error) {
	var (
		c *contractv1.Contract
		v int64
	)
	in := req.GetFulfilment()
	out, err := resource.Run(ctx, s.res, resource.Change[*contractv1.Fulfilment]{
		Method:    contractv1.ContractService_RecordFulfilment_FullMethodName,
		RequestID: req.GetRequestId(), Request: req,
		Refs: func(ctx context.Context, t *resource.Tx, _ *contractv1.Fulfilment) error {
			var err error
			c, v, err = s.lockedContract(ctx, t, t.Caller, req.GetParent())
			return err
		},
		Allow: func(p auth.Principal, _ *contractv1.Fulfilment) error {
			if s.manages(p, c.GetCommunityCode()) {
				return nil
			}
			if party := partyOf(p); party != "" && party == in.GetParty() {
				return nil
			}
			return apierr.PermissionDenied("NOT_YOUR_PARTY", "you may record fulfilment for your own partner only, not for "+in.GetParty())
		},
		Apply: func(ctx context.Context, t *resource.Tx, _ *contractv1.Fulfilment, _ int64) (*contractv1.Fulfilment, int64, error) {
			f := proto.Clone(in).(*contractv1.Fulfilment)
			f.Name = c.GetName() + "/fulfilments/" + aip.NewID()
			f.Activity, f.Recorder, f.CreateTime = "", t.Caller.Subject, timestamppb.New(t.Now)
			if err := s.fulfil(ctx, t, c, v, f, "fulfilment"); err != nil {
				return nil, 0, err
			}
			return f, 1, nil
		},
	})
	if err != nil {
		return nil, err
	}
	return &contractv1.RecordFulfilmentResponse{Fulfilment: out}, nil
}

// ListFulfilments implements contractv1.ContractServiceServer.
func (s *Server) ListFulfilments(ctx context.Context, req *contractv1.ListFulfilmentsRequest) (*contractv1.ListFulfilmentsResponse, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	q := s.db.Reads()
	if _, _, err := s.loadContract(ctx, q, p, req.GetParent()); err != nil {
		return nil, apierr.FromCall(err, req.GetParent())
	}
	page, next, err := s.store.ListFulfilments(ctx, q, req.GetParent(), aip.PageSize(req.GetPageSize(), defaultPageSize, maxPageSize), req.GetPageToken())
	if err != nil {
		return nil, apierr.FromCall(err, req.GetParent())
	}
	return &contractv1.ListFulfilmentsResponse{Fulfilments: page, NextPageToken: next}, nil
}

// ListContractAlerts implements contractv1.ContractServiceServer.
func (s *Server) ListContractAlerts(ctx context.Context, req *contractv1.ListContractAlertsRequest) (*contractv1.ListContractAlertsResponse, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	q := s.db.Reads()
	if _, _, err := s.loadContract(ctx, q, p, req.GetParent()); err != nil {
		return nil, apierr.FromCall(err, req.GetParent())
	}
	page, next, err := s.store.ListAlerts(ctx, q, req.GetParent(), aip.PageSize(req.GetPageSize(), defaultPageSize, maxPageSize), req.GetPageToken())
	if err != nil {
		return nil, apierr.FromCall(err, req.GetParent())
	}
	return &contractv1.ListContractAlertsResponse{Alerts: page, NextPageToken: next}, nil
}

// SweepContracts is the follow-up sweep of a batch of contracts that fell due: it raises each
// alert whose moment passed (once per occurrence: the alert's key is unique per contract, and
// the contract's swept time moves past it), expires a contract whose end date passed, and
// moves each contract's due moment on. The sweeper's claim holds the rows.
func (s *Server) SweepContracts(ctx context.Context, tx sqlstore.Tx, keys []string, now time.Time) error {
	t := s.res.Background(tx, sweeperActor)
	t.Now = now
	got, err := s.store.GetContracts(ctx, tx, keys)
	if err != nil {
		return err
	}
	for _, key := range keys {
		l, ok := got[key]
		if !ok {
			continue
		}
		c := l.Rec
		due, _ := domain.Schedule(c, s.policy, c.GetSweptTime().AsTime(), now)
		for _, o := range due {
			if o.Expire {
				if err := s.moved(ctx, t, c, contractv1.ContractStatus_CONTRACT_STATUS_EXPIRED,
					"契约已于"+o.Date.String()+"期满：请续约、评估或结项"); err != nil {
					return err
				}
				break
			}
			a := &contractv1.Alert{
				Name: c.GetName() + "/alerts/" + aip.NewID(), Kind: o.Kind, Party: o.Party, DutyId: o.DutyID, MilestoneId: o.MilestoneID,
				OccurrenceDate: o.Date.Proto(), Message: o.Message, CreateTime: timestamppb.New(now),
			}
			added, err := s.store.InsertAlert(ctx, tx, o.Key, a)
			if err != nil {
				return err
			}
			if !added {
				continue
			}
			c.AlertCount++
			if err := t.Emit(ctx, c.GetName(), c.GetCommunityCode(), &contractv1.AlertRaised{
				Contract: c.GetName(), Project: c.GetProject(), CommunityCode: c.GetCommunityCode(), Alert: a,
			}); err != nil {
				return err
			}
		}
		c.SweptTime = timestamppb.New(now)
		if _, err := s.save(ctx, t, c, l.Version, true); err != nil {
			return err
		}
	}
	return nil
}
