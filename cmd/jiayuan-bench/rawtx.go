package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/oklog/ulid/v2"
	"google.golang.org/protobuf/proto"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
)

// The second baseline: the rows a create writes, sent by pgx straight to the service's own
// tables as one pipelined implicit transaction (one round trip, one commit), as the service
// sends them. It is the database's share of a create; the service's own share is the
// difference. The statements mirror the stores' and must follow them when those change.

// rawPartnerTx writes what CreatePartner writes: the party, its offers (one per category and
// service area), the request id with the response, the PartnerRegistered event and the audit
// record.
func rawPartnerTx(ctx context.Context, pool *pgxpool.Pool, p *partnerv1.Partner, i int64) error {
	p = proto.Clone(p).(*partnerv1.Partner)
	p.Name = fmt.Sprintf("partners/rawtx%021d", i)
	p.Status = partnerv1.PartnerStatus_PARTNER_STATUS_APPLIED
	data, err := proto.Marshal(p)
	if err != nil {
		return err
	}
	now := time.Now().UnixMicro()
	var days int64
	for _, w := range p.GetAvailability() {
		days |= 1 << w.GetWeekday()
	}
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO parties (name, kind, display_name, group_name, group_kind, region_code, status, credit_code,
		recruitment_channel, data, version, create_us, update_us) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, $11, $11)`,
		p.GetName(), int64(1), p.GetDisplayName(), p.GetGroup(), int64(0), p.GetRegionCode(), int64(p.GetStatus()), "",
		int64(p.GetRecruitmentChannel()), data, now)
	seen := map[int64]bool{}
	for _, c := range p.GetCapabilities() {
		cat := int64(c.GetCategory())
		if seen[cat] {
			continue
		}
		seen[cat] = true
		for _, a := range p.GetServiceAreas() {
			b.Queue(`INSERT INTO party_offers (party, category, region_code, kind, status, weekdays, version) VALUES ($1, $2, $3, $4, $5, $6, 1)`,
				p.GetName(), cat, a, int64(1), int64(p.GetStatus()), days)
		}
	}
	queueKeyAndEvent(b, "/jiayuan.partner.v1.PartnerService/CreatePartner", "jiayuan.partner.v1.PartnerRegistered", "admin",
		p.GetName(), p.GetRegionCode(), data, now)
	return pool.SendBatch(ctx, b).Close()
}

// rawDemandTx writes what CreateDemand writes for a demand staff record: the demand (with its
// follow-up code's hash), its first timeline entry, the code's SMS to the reporter's phone on
// the notification outbox, the request id with the response, the DemandSubmitted event and
// the audit record.
func rawDemandTx(ctx context.Context, pool *pgxpool.Pool, d *demandv1.Demand, i int64) error {
	d = proto.Clone(d).(*demandv1.Demand)
	d.Name = fmt.Sprintf("demands/rawtx%021d", i)
	d.Status = demandv1.DemandStatus_DEMAND_STATUS_SUBMITTED
	data, err := proto.Marshal(d)
	if err != nil {
		return err
	}
	entry, err := proto.Marshal(&demandv1.TimelineEntry{Name: d.GetName() + "/timelineEntries/1", Message: "您的诉求已收到，社区将在三个工作日内答复。"})
	if err != nil {
		return err
	}
	now := time.Now().UnixMicro()
	b := &pgx.Batch{}
	codeHash := sha256.Sum256([]byte(d.GetName()))
	b.Queue(`INSERT INTO demands (name, kind, category, channel, status, urgency, community_code, place_code,
		meeting, project, raised_by, supporter_count, data, version, create_us, update_us, follow_up_code_hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 1, $14, $15, $16)`,
		d.GetName(), int64(d.GetKind()), int64(d.GetCategory()), int64(d.GetChannel()), int64(d.GetStatus()),
		int64(d.GetUrgency()), d.GetCommunityCode(), d.GetCommunityCode(), "", "", "", int64(0), data, now, now, codeHash[:])
	b.Queue(`INSERT INTO demand_timeline (demand, id, kind, create_us, data) VALUES ($1, $2, $3, $4, $5)`,
		d.GetName(), "1", int64(1), now, entry)
	b.Queue(`INSERT INTO demand_notifications (name, demand, id, subject, urgent, state, due_us, create_us, data, personal)
		VALUES ($1, $2, $3, '', FALSE, 1, $4, $4, $5, $6)`,
		d.GetName()+"/notifications/1", d.GetName(), "1", now, entry, codeHash[:])
	queueKeyAndEvent(b, "/jiayuan.demand.v1.DemandService/CreateDemand", "jiayuan.demand.v1.DemandSubmitted", "community_staff",
		d.GetName(), d.GetCommunityCode(), data, now)
	return pool.SendBatch(ctx, b).Close()
}

// queueKeyAndEvent queues the idempotency record, the outbox event and the audit record every
// create writes. (The audit record's chain link is not among them: the chaining step writes it
// after the commit, in one statement for every record of its 100 ms, as the service's own work.)
// roles are the bench caller's, as the record names them.
func queueKeyAndEvent(b *pgx.Batch, method, eventType, roles, subject, region string, data []byte, now int64) {
	b.Queue(`INSERT INTO idempotency_keys (method, request_id, request_hash, created_us, response) VALUES ($1, $2, $3, $4, $5)`,
		method, uuid.NewString(), data[:min(32, len(data))], now, data)
	b.Queue(`INSERT INTO events (id, type, subject, region_code, time_us, payload) VALUES ($1, $2, $3, $4, $5, $6)`,
		ulid.Make().String(), eventType, subject, region, now, data)
	b.Queue(`INSERT INTO audit_records (id, time_us, kind, subject, roles, method, resource, region_code, outcome, paths, detail)
		VALUES ($1, $2, 'write', 'bench-raw', $3, $4, $5, $6, 'OK', '', '')`,
		ulid.Make().String(), now, roles, method, subject, region)
}
