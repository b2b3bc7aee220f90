package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

// InsertProject adds a project at version 1 (queued in a transaction).
func (s *Store) InsertProject(ctx context.Context, q sqlstore.Querier, p *demandv1.Project) error {
	data, err := proto.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode %s: %w", p.GetName(), err)
	}
	created := micros(p.GetCreateTime(), time.Now())
	if err := sqlstore.Write(ctx, q, `INSERT INTO projects (name, community_code, list_type, category, status, data, version,
		create_us, update_us) VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8)`,
		p.GetName(), p.GetCommunityCode(), int64(p.GetListType()), int64(p.GetCategory()), int64(p.GetStatus()), data,
		created, micros(p.GetUpdateTime(), time.UnixMicro(created))); err != nil {
		return fmt.Errorf("insert %s: %w", p.GetName(), err)
	}
	return s.writePartners(ctx, q, p)
}

// writePartners records the project's matched partners.
func (s *Store) writePartners(ctx context.Context, q sqlstore.Querier, p *demandv1.Project) error {
	var args sqlstore.Args
	var rows []string
	seen := map[string]bool{}
	for _, partner := range p.GetMatchedPartners() {
		if seen[partner] {
			continue
		}
		seen[partner] = true
		rows = append(rows, "("+args.Add(p.GetName())+", "+args.Add(partner)+")")
	}
	if len(rows) == 0 {
		return nil
	}
	if err := sqlstore.Write(ctx, q, `INSERT INTO project_partners (project, partner) VALUES `+strings.Join(rows, ", "), args.Values()...); err != nil {
		return fmt.Errorf("record the partners of %s: %w", p.GetName(), err)
	}
	return nil
}

// GetProject returns the project called name and its version.
func (s *Store) GetProject(ctx context.Context, q sqlstore.Querier, name string) (*demandv1.Project, int64, error) {
	var data []byte
	var version int64
	if err := q.QueryRow(ctx, `SELECT data, version FROM projects WHERE name = $1`, name).Scan(&data, &version); err != nil {
		return nil, 0, fmt.Errorf("get %s: %w", name, err)
	}
	p := &demandv1.Project{}
	if err := proto.Unmarshal(data, p); err != nil {
		return nil, 0, fmt.Errorf("decode %s: %w", name, err)
	}
	return p, version, nil
}

// UpdateProject replaces the project if it is still at version and returns the new version:
// sqlstore.ErrStale if someone changed it meanwhile, sqlstore.ErrNotFound if it is gone. The recorded
// partners are rewritten from p.MatchedPartners.
func (s *Store) UpdateProject(ctx context.Context, q sqlstore.Querier, p *demandv1.Project, version int64) (int64, error) {
	data, err := proto.Marshal(p)
	if err != nil {
		return 0, fmt.Errorf("encode %s: %w", p.GetName(), err)
	}
	n, err := q.Exec(ctx, `UPDATE projects SET community_code = $1, list_type = $2, category = $3, status = $4, data = $5,
		version = version + 1, update_us = $6 WHERE name = $7 AND version = $8`,
		p.GetCommunityCode(), int64(p.GetListType()), int64(p.GetCategory()), int64(p.GetStatus()), data,
		micros(p.GetUpdateTime(), time.Now()), p.GetName(), version)
	if err != nil {
		return 0, fmt.Errorf("update %s: %w", p.GetName(), err)
	}
	if n == 0 {
		return 0, updated(ctx, q, "projects", p.GetName())
	}
	if err := sqlstore.Write(ctx, q, `DELETE FROM project_partners WHERE project = $1`, p.GetName()); err != nil {
		return 0, fmt.Errorf("clear the partners of %s: %w", p.GetName(), err)
	}
	if err := s.writePartners(ctx, q, p); err != nil {
		return 0, err
	}
	return version + 1, nil
}

var projectFilter = sqlstore.FilterSchema{
	"region_code": regionField("p.community_code", "p.community_code"),
	"list_type":   sqlstore.EnumField("p.list_type", demandv1.ListType(0).Descriptor(), "LIST_TYPE_"),
	"category":    sqlstore.EnumField("p.category", typev1.Category(0).Descriptor(), "CATEGORY_"),
	"status":      sqlstore.EnumField("p.status", demandv1.ProjectStatus(0).Descriptor(), "PROJECT_STATUS_"),
}

// ProjectListParams selects a page of projects.
type ProjectListParams struct {
	Filter    string
	PageSize  int
	PageToken string
	Scope     *Scope
}

// ListProjects returns a page of projects, newest first, and the next page's token.
func (s *Store) ListProjects(ctx context.Context, q sqlstore.Querier, p ProjectListParams) ([]Listed[*demandv1.Project], string, error) {
	lq := &listQuery{
		what: "list projects", from: "projects p", key: []keyCol{{expr: "p.create_us", integer: true}, {expr: "p.name"}}, desc: true,
		size: p.PageSize, token: p.PageToken,
		query: aip.Fingerprint("projects", p.Filter, p.Scope.fingerprint()),
	}
	f, err := projectFilter.Compile(p.Filter, &lq.args)
	if err != nil {
		return nil, "", err
	}
	if f != "" {
		lq.where = append(lq.where, f)
	}
	if c := p.Scope.condition("p.community_code", &lq.args); c != "" {
		lq.where = append(lq.where, c)
	}
	return run(ctx, q, lq, func(data, _ []byte, _ []int64) (*demandv1.Project, error) {
		pr := &demandv1.Project{}
		if err := proto.Unmarshal(data, pr); err != nil {
			return nil, fmt.Errorf("decode a project: %w", err)
		}
		return pr, nil
	})
}

// PartnerRecord is what the demand service knows of a partner when matching it: its active
// commitments here and its track record from the partner service's activity events.
type PartnerRecord struct {
	Partner           string
	ActiveCommitments int
	ActivityCount     int
	PeopleServed      int
	LastActivityDate  string
	// ContractsFulfilled and ContractsBreached count its contracts' outcomes.
	ContractsFulfilled, ContractsBreached int
}

// committedStatuses are the project statuses in which accepted partners are committed.
var committedStatuses = []int64{
	int64(demandv1.ProjectStatus_PROJECT_STATUS_CONTRACT_PENDING),
	int64(demandv1.ProjectStatus_PROJECT_STATUS_CONTRACTED),
	int64(demandv1.ProjectStatus_PROJECT_STATUS_DELIVERING),
}

// PartnerRecords returns the record of each of partners (a zero record for one with nothing
// on file), in two queries whatever their number.
func (s *Store) PartnerRecords(ctx context.Context, q sqlstore.Querier, partners []string) (map[string]PartnerRecord, error) {
	out := make(map[string]PartnerRecord, len(partners))
	if len(partners) == 0 {
		return out, nil
	}
	for _, p := range partners {
		out[p] = PartnerRecord{Partner: p}
	}
	// One statement, one round trip: the commitments counted from the projects, then the
	// activity records, told apart by the first column.
	var args sqlstore.Args
	bind := args.Add
	if q.Dialect() == sqlstore.Postgres {
		// Both halves name the same array (AnyOf binds it whole on PostgreSQL): bound and
		// encoded once. A match's few hundred names, encoded twice, were a sixth of the bytes
		// it allocated.
		names := args.Add(partners)
		bind = func(any) string { return names }
	}
	rows, err := q.Query(ctx, `SELECT 1, pp.partner, COUNT(*), 0, 0, '', 0, 0 FROM project_partners pp JOIN projects p ON p.name = pp.project
		WHERE `+sqlstore.AnyOf(q, bind, "pp.partner", partners)+` AND p.status IN `+sqlstore.InList(&args, committedStatuses)+` GROUP BY pp.partner
		UNION ALL
		SELECT 2, partner, 0, activity_count, people_served, last_activity_date, contracts_fulfilled, contracts_breached FROM partner_records
		WHERE `+sqlstore.AnyOf(q, bind, "partner", partners), args.Values()...)
	if err != nil {
		return nil, fmt.Errorf("read partner records: %w", err)
	}
	err = scanEach(rows, func(r sqlstore.Rows) error {
		var part int64
		var partner, last string
		var commitments, count, served, fulfilled, breached int64
		if err := r.Scan(&part, &partner, &commitments, &count, &served, &last, &fulfilled, &breached); err != nil {
			return err
		}
		rec := out[partner]
		if part == 1 {
			rec.ActiveCommitments = int(commitments)
		} else {
			rec.ActivityCount, rec.PeopleServed, rec.LastActivityDate = int(count), int(served), last
			rec.ContractsFulfilled, rec.ContractsBreached = int(fulfilled), int(breached)
		}
		out[partner] = rec
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read partner records: %w", err)
	}
	return out, nil
}

// scanEach calls fn for every row and closes rows.
func scanEach(rows sqlstore.Rows, fn func(sqlstore.Rows) error) error {
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// RecordActivity adds one delivered activity to the partner's track record (queued in a
// transaction): the count goes up by one, people served by peopleServed, and the last activity
// date moves to activityDate ("YYYY-MM-DD") unless a later one is on file. Applying an event
// once is the caller's business (its cursor commits with this write).
func (s *Store) RecordActivity(ctx context.Context, q sqlstore.Querier, partner, activityDate string, peopleServed int) error {
	if err := sqlstore.Write(ctx, q, `INSERT INTO partner_records (partner, activity_count, people_served, last_activity_date, update_us)
		VALUES ($1, 1, $2, $3, $4)
		ON CONFLICT (partner) DO UPDATE SET activity_count = partner_records.activity_count + 1,
			people_served = partner_records.people_served + excluded.people_served,
			last_activity_date = CASE WHEN excluded.last_activity_date > partner_records.last_activity_date
				THEN excluded.last_activity_date ELSE partner_records.last_activity_date END,
			update_us = excluded.update_us`,
		partner, int64(peopleServed), activityDate, time.Now().UnixMicro()); err != nil {
		return fmt.Errorf("record an activity of %s: %w", partner, err)
	}
	return nil
}

// RecordContractOutcome adds one contract outcome to the partner's track record: fulfilled, or
// else breached. Applying an event once is the caller's business (its cursor commits with
// this write).
func (s *Store) RecordContractOutcome(ctx context.Context, q sqlstore.Querier, partner string, fulfilled bool) error {
	var f, b int64 = 0, 1
	if fulfilled {
		f, b = 1, 0
	}
	if err := sqlstore.Write(ctx, q, `INSERT INTO partner_records (partner, activity_count, people_served, last_activity_date, update_us,
		contracts_fulfilled, contracts_breached) VALUES ($1, 0, 0, '', $2, $3, $4)
		ON CONFLICT (partner) DO UPDATE SET contracts_fulfilled = partner_records.contracts_fulfilled + excluded.contracts_fulfilled,
			contracts_breached = partner_records.contracts_breached + excluded.contracts_breached, update_us = excluded.update_us`,
		partner, time.Now().UnixMicro(), f, b); err != nil {
		return fmt.Errorf("record a contract outcome of %s: %w", partner, err)
	}
	return nil
}

// SetProjectContract records that project is under contract in status (the contract
// service's ContractStatus number).
func (s *Store) SetProjectContract(ctx context.Context, q sqlstore.Querier, project, contract string, status int32) error {
	if err := sqlstore.Write(ctx, q, `INSERT INTO project_contracts (project, contract, status) VALUES ($1, $2, $3)
		ON CONFLICT (project) DO UPDATE SET contract = excluded.contract, status = excluded.status`, project, contract, int64(status)); err != nil {
		return fmt.Errorf("record the contract of %s: %w", project, err)
	}
	return nil
}

// ProjectContract returns the contract project is under and its status; sqlstore.ErrNotFound
// when it has none.
func (s *Store) ProjectContract(ctx context.Context, q sqlstore.Querier, project string) (string, int32, error) {
	var contract string
	var status int64
	if err := q.QueryRow(ctx, `SELECT contract, status FROM project_contracts WHERE project = $1`, project).Scan(&contract, &status); err != nil {
		return "", 0, fmt.Errorf("contract of %s: %w", project, err)
	}
	return contract, int32(status), nil
}

// FirstContractEvent records that the contract service's event id is being applied, and
// reports whether it is the first time: false when it was applied before (a replay).
func (s *Store) FirstContractEvent(ctx context.Context, q sqlstore.Querier, id string) (bool, error) {
	n, err := q.Exec(ctx, `INSERT INTO contract_events_applied (event_id, applied_us) VALUES ($1, $2) ON CONFLICT (event_id) DO NOTHING`,
		id, time.Now().UnixMicro())
	if err != nil {
		return false, fmt.Errorf("record contract event %s: %w", id, err)
	}
	return n == 1, nil
}
