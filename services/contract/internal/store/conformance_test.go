package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	contractv1 "github.com/jiayuan/jiayuan/gen/jiayuan/contract/v1"
	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
	"github.com/jiayuan/jiayuan/services/contract/internal/store"
	"github.com/jiayuan/jiayuan/services/contract/migrations"
)

var t0 = time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)

func newContract(community string, partners ...string) *contractv1.Contract {
	c := &contractv1.Contract{
		Name: aip.NewName("contracts"), Project: aip.NewName("projects"), CommunityCode: community, Title: "周三下午四点半课堂",
		Status: contractv1.ContractStatus_CONTRACT_STATUS_DRAFT, Parties: []*contractv1.Party{{Party: "community"}},
		CreateTime: timestamppb.New(t0), UpdateTime: timestamppb.New(t0),
	}
	for _, p := range partners {
		c.Parties = append(c.Parties, &contractv1.Party{Party: p})
	}
	return c
}

// TestConformance runs every store method on both back ends.
func TestConformance(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := t.Context()
			db := sqlstoretest.OpenURL(t, b.NewURL(t))
			if err := db.Migrate(ctx, "contract", migrations.FS()); err != nil {
				t.Fatal(err)
			}
			s := store.New()
			inTx := func(f func(tx sqlstore.Tx) error) error {
				return db.InTx(ctx, func(_ context.Context, tx sqlstore.Tx) error { return f(tx) })
			}
			p1, p2 := aip.NewName("partnerGroups"), aip.NewName("partners")
			a, b2 := newContract("450105001001", p1, p2), newContract("450105003001", p2)
			due := t0.Add(time.Hour)
			if err := inTx(func(tx sqlstore.Tx) error { return s.InsertContract(ctx, tx, a, "450105001", "event-1", &due) }); err != nil {
				t.Fatal(err)
			}
			if err := inTx(func(tx sqlstore.Tx) error { return s.InsertContract(ctx, tx, b2, "450105003", "", nil) }); err != nil {
				t.Fatal(err)
			}
			// One draft per origin.
			dup := newContract("450105001001", p1)
			if err := inTx(func(tx sqlstore.Tx) error { return s.InsertContract(ctx, tx, dup, "450105001", "event-1", nil) }); !errors.Is(err, sqlstore.ErrAlreadyExists) {
				t.Fatalf("second draft of one origin: %v", err)
			}
			if n, err := s.ContractOfOrigin(ctx, db.Reads(), "event-1"); err != nil || n != a.GetName() {
				t.Fatalf("ContractOfOrigin = %q, %v", n, err)
			}
			if _, err := s.ContractOfOrigin(ctx, db.Reads(), "event-2"); !errors.Is(err, sqlstore.ErrNotFound) {
				t.Fatalf("ContractOfOrigin of nothing: %v", err)
			}
			got, v, err := s.GetContract(ctx, db.Reads(), a.GetName())
			if err != nil || v != 1 || got.GetProject() != a.GetProject() {
				t.Fatalf("GetContract = %v, %d, %v", got, v, err)
			}
			if _, _, err := s.GetContract(ctx, db.Reads(), aip.NewName("contracts")); !errors.Is(err, sqlstore.ErrNotFound) {
				t.Fatalf("GetContract of nothing: %v", err)
			}
			// Updates: the version moves on, a stale one is refused, a missing one is not found.
			got.Status = contractv1.ContractStatus_CONTRACT_STATUS_ACTIVE
			if err := inTx(func(tx sqlstore.Tx) error {
				nv, err := s.UpdateContract(ctx, tx, got, 1, nil)
				if err == nil && nv != 2 {
					t.Errorf("new version %d", nv)
				}
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if err := inTx(func(tx sqlstore.Tx) error { _, err := s.UpdateContract(ctx, tx, got, 1, nil); return err }); !errors.Is(err, sqlstore.ErrStale) {
				t.Fatalf("stale update: %v", err)
			}
			if err := inTx(func(tx sqlstore.Tx) error {
				_, err := s.UpdateContract(ctx, tx, newContract("450105001001"), 1, nil)
				return err
			}); !errors.Is(err, sqlstore.ErrNotFound) {
				t.Fatalf("update of nothing: %v", err)
			}
			if err := inTx(func(tx sqlstore.Tx) error {
				if err := s.LockContract(ctx, tx, a.GetName()); err != nil {
					return err
				}
				_, err := s.UpdateLockedContract(ctx, tx, got, 2, &due)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			m, err := s.GetContracts(ctx, db.Reads(), []string{a.GetName(), b2.GetName(), aip.NewName("contracts")})
			if err != nil || len(m) != 2 || m[a.GetName()].Version != 3 || m[a.GetName()].Rec.GetStatus() != contractv1.ContractStatus_CONTRACT_STATUS_ACTIVE {
				t.Fatalf("GetContracts = %v, %v", m, err)
			}
			// Lists: by scope (communities, a partner's own), filter and page.
			for _, tc := range []struct {
				name   string
				p      store.ListParams
				want   []string
				errors bool
			}{
				{"all", store.ListParams{Scope: store.Scope{All: true}, PageSize: 10}, []string{b2.GetName(), a.GetName()}, false},
				{"a community", store.ListParams{Scope: store.Scope{Communities: []string{"450105001001"}}, PageSize: 10}, []string{a.GetName()}, false},
				{"a partner", store.ListParams{Scope: store.Scope{Partner: p2}, PageSize: 10}, []string{b2.GetName(), a.GetName()}, false},
				{"nobody", store.ListParams{PageSize: 10}, nil, false},
				{"status", store.ListParams{Scope: store.Scope{All: true}, Filter: "status = ACTIVE", PageSize: 10}, []string{a.GetName()}, false},
				{"partner filter", store.ListParams{Scope: store.Scope{All: true}, Filter: `partner = "` + p1 + `"`, PageSize: 10}, []string{a.GetName()}, false},
				{"region", store.ListParams{Scope: store.Scope{All: true}, Filter: `region_code = "450105003"`, PageSize: 10}, []string{b2.GetName()}, false},
				{"project", store.ListParams{Scope: store.Scope{All: true}, Filter: `project = "` + b2.GetProject() + `"`, PageSize: 10}, []string{b2.GetName()}, false},
				{"bad filter", store.ListParams{Scope: store.Scope{All: true}, Filter: "colour = RED", PageSize: 10}, nil, true},
			} {
				page, _, err := s.ListContracts(ctx, db.Reads(), tc.p)
				if (err != nil) != tc.errors {
					t.Fatalf("%s: %v", tc.name, err)
				}
				var names []string
				for _, l := range page {
					names = append(names, l.Rec.GetName())
				}
				if len(names) != len(tc.want) || (len(names) > 0 && names[0] != tc.want[0]) {
					t.Fatalf("%s: %v, want %v", tc.name, names, tc.want)
				}
			}
			page, next, err := s.ListContracts(ctx, db.Reads(), store.ListParams{Scope: store.Scope{All: true}, PageSize: 1})
			if err != nil || len(page) != 1 || next == "" {
				t.Fatalf("first page: %d, %q, %v", len(page), next, err)
			}
			page, next, err = s.ListContracts(ctx, db.Reads(), store.ListParams{Scope: store.Scope{All: true}, PageSize: 1, PageToken: next})
			if err != nil || len(page) != 1 || next != "" || page[0].Rec.GetName() != a.GetName() {
				t.Fatalf("second page: %d, %q, %v", len(page), next, err)
			}
			// Fulfilments: unique by activity.
			f := &contractv1.Fulfilment{Name: a.GetName() + "/fulfilments/" + aip.NewID(), Activity: "activities/" + aip.NewID(), CreateTime: timestamppb.New(t0)}
			if err := inTx(func(tx sqlstore.Tx) error { return s.InsertFulfilment(ctx, tx, f) }); err != nil {
				t.Fatal(err)
			}
			again := &contractv1.Fulfilment{Name: a.GetName() + "/fulfilments/" + aip.NewID(), Activity: f.GetActivity(), CreateTime: timestamppb.New(t0)}
			if err := inTx(func(tx sqlstore.Tx) error { return s.InsertFulfilment(ctx, tx, again) }); !errors.Is(err, sqlstore.ErrAlreadyExists) {
				t.Fatalf("a second fulfilment of one activity: %v", err)
			}
			byHand := &contractv1.Fulfilment{Name: a.GetName() + "/fulfilments/" + aip.NewID(), CreateTime: timestamppb.New(t0)}
			if err := inTx(func(tx sqlstore.Tx) error { return s.InsertFulfilment(ctx, tx, byHand) }); err != nil {
				t.Fatal(err)
			}
			if n, err := s.FulfilmentOfActivity(ctx, db.Reads(), f.GetActivity()); err != nil || n != f.GetName() {
				t.Fatalf("FulfilmentOfActivity = %q, %v", n, err)
			}
			fs, _, err := s.ListFulfilments(ctx, db.Reads(), a.GetName(), 10, "")
			if err != nil || len(fs) != 2 || fs[0].GetName() != byHand.GetName() {
				t.Fatalf("ListFulfilments = %v, %v", fs, err)
			}
			// Alerts: once per key.
			for i, want := range []bool{true, false} {
				al := &contractv1.Alert{Name: a.GetName() + "/alerts/" + aip.NewID(), Kind: contractv1.AlertKind_ALERT_KIND_PARTNER_INACTIVE, CreateTime: timestamppb.New(t0)}
				var added bool
				if err := inTx(func(tx sqlstore.Tx) error {
					var err error
					added, err = s.InsertAlert(ctx, tx, "inactive:x:2026-12-02", al)
					return err
				}); err != nil || added != want {
					t.Fatalf("alert %d: added %v, %v", i, added, err)
				}
			}
			als, _, err := s.ListAlerts(ctx, db.Reads(), a.GetName(), 10, "")
			if err != nil || len(als) != 1 {
				t.Fatalf("ListAlerts = %v, %v", als, err)
			}
		})
	}
}
