package suite_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	eventsv1 "github.com/jiayuan/jiayuan/gen/jiayuan/events/v1"
	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/internal/suite"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/personal"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/server"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
)

const (
	district = "450105"
	erqiao   = "450105001001" // 二桥西社区
)

// pair is the partner and demand services, each on its own node and database as
// `jiayuan serve` runs them.
type pair struct {
	signer            *auth.DevSigner
	urls              map[string]string // database URL by service
	partners          partnerv1.PartnerServiceClient
	demands           demandv1.DemandServiceClient
	feeds             map[string]eventsv1.EventFeedServiceClient
	partnerV, demandV string
}

func startPair(t *testing.T, b sqlstoretest.Backend) *pair {
	t.Helper()
	signer, err := auth.LoadOrCreateDevKey(filepath.Join(t.TempDir(), "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewVerifier(t.Context(), signer.VerifierConfig())
	if err != nil {
		t.Fatal(err)
	}
	keys, err := personal.GenerateKeys("test")
	if err != nil {
		t.Fatal(err)
	}
	tree := region.Demo()
	p := &pair{signer: signer, urls: map[string]string{}, feeds: map[string]eventsv1.EventFeedServiceClient{}}
	ctx, cancel := context.WithCancel(context.Background())
	var done []chan error
	t.Cleanup(func() {
		cancel()
		for _, d := range done {
			<-d
		}
	})
	addrs := map[string]string{}
	for _, name := range []string{"partner", "demand"} {
		spec, _ := suite.Lookup(name)
		p.urls[name] = b.NewURL(t)
		peers := map[string]grpc.ClientConnInterface{}
		for _, peer := range spec.Peers {
			creds := auth.NewBearerCredentials(signer.TokenSource(suite.ServicePrincipal(name, tree), time.Hour), true)
			peers[peer] = dialT(t, addrs[peer], grpc.WithPerRPCCredentials(creds))
		}
		photos, err := suite.DevPhotos(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		node, err := suite.OpenNode(ctx, spec, suite.NodeConfig{
			DatabaseURL: p.urls[name], Tree: tree, Verifier: v, Keys: keys, Peers: peers, Photos: photos,
			Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
			ServerOptions: server.Options{DrainDelay: -1, ShutdownTimeout: time.Second},
		})
		if err != nil {
			t.Fatal(err)
		}
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs[name] = lis.Addr().String()
		d := make(chan error, 1)
		done = append(done, d)
		go func() { d <- node.Serve(ctx, lis) }()
		p.feeds[name] = eventsv1.NewEventFeedServiceClient(dialT(t, addrs[name]))
	}
	p.partners = partnerv1.NewPartnerServiceClient(dialT(t, addrs["partner"]))
	p.demands = demandv1.NewDemandServiceClient(dialT(t, addrs["demand"]))
	return p
}

func dialT(t *testing.T, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func (p *pair) as(t *testing.T, role auth.Role, scope string) context.Context {
	t.Helper()
	tok, err := p.signer.Token(auth.Principal{Subject: "test-" + string(role), Roles: []auth.Role{role}, Scope: []string{scope}}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+tok)
}

// secrets is the personal data the test files through the API, each value distinctive
// enough that finding it anywhere in a database is no accident.
type secrets struct {
	demand  *demandv1.Demand
	partner *partnerv1.Partner
	group   *partnerv1.PartnerGroup
	// followUpCode is the demand's follow-up code as shown to its recorder ("1234 5678 9012"):
	// a secret of the resident's, sealed at rest as their personal data is.
	followUpCode string
}

func (s secrets) values() []string {
	r, c, g := s.demand.GetReporter(), s.partner.GetContact(), s.group.GetContact()
	return []string{r.GetName(), r.GetPhone(), s.demand.GetAddress(), c.GetPersonName(), c.GetPhone(), g.GetPersonName(), g.GetPhone(),
		s.followUpCode, strings.ReplaceAll(s.followUpCode, " ", "")}
}

// fileRecords creates a demand, a partner and a group with personal data through the API (two
// with a request id, whose response is kept for retries),
// and checks that those allowed read it back unmasked.
func fileRecords(t *testing.T, p *pair) secrets {
	t.Helper()
	staff := p.as(t, auth.RoleCommunityStaff, erqiao)
	s := secrets{
		demand: &demandv1.Demand{
			Kind: demandv1.DemandKind_DEMAND_KIND_NEED, Category: typev1.Category_CATEGORY_CHILDCARE, Channel: demandv1.Channel_CHANNEL_WALK_IN,
			Title: "周三下午孩子无人看管", CommunityCode: erqiao, Address: "星光大道二桥西里17栋3单元602",
			Location: &demandv1.GeoPoint{Latitude: 22.7812345, Longitude: 108.3298765},
			Reporter: &demandv1.Reporter{Name: "欧阳慧敏", Phone: "13978650421"},
		},
		partner: &partnerv1.Partner{
			DisplayName: "周末托管小组", RegionCode: erqiao, ServiceAreas: []string{erqiao},
			Capabilities: []*partnerv1.Capability{{Category: typev1.Category_CATEGORY_CHILDCARE, Tags: []string{"看护"}}},
			Contact:      &partnerv1.Contact{PersonName: "上官婉清", Phone: "13878651234"},
		},
		group: &partnerv1.PartnerGroup{
			DisplayName: "茶艺工作室", Kind: partnerv1.GroupKind_GROUP_KIND_MERCHANT, CreditCode: "92450105MA0000033W",
			RegionCode: erqiao, ServiceAreas: []string{erqiao},
			Capabilities: []*partnerv1.Capability{{Category: typev1.Category_CATEGORY_CULTURE_SPORTS, Tags: []string{"茶艺"}}},
			Contact:      &partnerv1.Contact{PersonName: "司徒静雯", Phone: "0771-5867302"},
		},
	}
	d, err := p.demands.CreateDemand(staff, &demandv1.CreateDemandRequest{Demand: s.demand, RequestId: "0a4e2c1e-8f0b-4c57-9d3e-1f2a3b4c5d6e"})
	if err != nil {
		t.Fatalf("CreateDemand: %v", err)
	}
	if s.followUpCode = d.GetDemand().GetFollowUpCode(); len(s.followUpCode) != len("1234 5678 9012") {
		t.Fatalf("the recorder got the follow-up code %q", s.followUpCode)
	}
	got, err := p.demands.GetDemand(staff, &demandv1.GetDemandRequest{Name: d.GetDemand().GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got.GetDemand().GetReporter(), s.demand.GetReporter()) || got.GetDemand().GetAddress() != s.demand.GetAddress() ||
		!proto.Equal(got.GetDemand().GetLocation(), s.demand.GetLocation()) {
		t.Errorf("the community's staff read %v, want the reporter, address and location as filed", got.GetDemand())
	}
	// A reply writes a notification to the reporter's phone into the outbox: sealed as well.
	if _, err := p.demands.ReplyToDemand(staff, &demandv1.ReplyToDemandRequest{Name: d.GetDemand().GetName(), Message: "已受理，周三前联系您。"}); err != nil {
		t.Fatalf("ReplyToDemand: %v", err)
	}
	ns, err := p.demands.ListNotifications(staff, &demandv1.ListNotificationsRequest{Parent: d.GetDemand().GetName()})
	// The follow-up code's SMS, then the reply's: both to the reporter's phone, masked.
	if err != nil || len(ns.GetNotifications()) != 2 {
		t.Fatalf("ListNotifications = %v, %v; want the code's and the reply's", ns, err)
	}
	for _, n := range ns.GetNotifications() {
		if n.GetRecipientPhone() != "139****0421" {
			t.Fatalf("notification %v; want it to the reporter's phone, masked", n)
		}
	}
	admin := p.as(t, auth.RoleAdmin, district)
	pt, err := p.partners.CreatePartner(admin, &partnerv1.CreatePartnerRequest{Partner: s.partner, RequestId: "5b1f0c2d-3e4a-4b6c-8d7e-9f0a1b2c3d4e"})
	if err != nil {
		t.Fatalf("CreatePartner: %v", err)
	}
	gp, err := p.partners.CreatePartnerGroup(admin, &partnerv1.CreatePartnerGroupRequest{PartnerGroup: s.group})
	if err != nil {
		t.Fatalf("CreatePartnerGroup: %v", err)
	}
	gotP, err := p.partners.GetPartner(staff, &partnerv1.GetPartnerRequest{Name: pt.GetPartner().GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(gotP.GetPartner().GetContact(), s.partner.GetContact()) {
		t.Errorf("the community's staff read the contact %v, want %v", gotP.GetPartner().GetContact(), s.partner.GetContact())
	}
	gotG, err := p.partners.GetPartnerGroup(staff, &partnerv1.GetPartnerGroupRequest{Name: gp.GetPartnerGroup().GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(gotG.GetPartnerGroup().GetContact(), s.group.GetContact()) {
		t.Errorf("the community's staff read the contact %v, want %v", gotG.GetPartnerGroup().GetContact(), s.group.GetContact())
	}
	return s
}

// TestNoPersonalDataAtRest files personal data through the API on each back end, then reads
// each database raw, as an attacker with a copy would: the SQLite files' bytes (with their
// journals), or every table's rows as text (as pg_dump shows them). No name, phone number or
// address may appear, in plain text or hex.
func TestNoPersonalDataAtRest(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			p := startPair(t, b)
			s := fileRecords(t, p)
			for _, name := range []string{"partner", "demand"} {
				raw := rawDatabase(t, p.urls[name])
				if len(raw) == 0 {
					t.Fatalf("%s: read nothing from the database", name)
				}
				for _, v := range s.values() {
					for _, form := range [][]byte{[]byte(v), []byte(hex.EncodeToString([]byte(v)))} {
						if bytes.Contains(bytes.ToLower(raw), bytes.ToLower(form)) {
							t.Errorf("%s's database holds %q", name, v)
						}
					}
				}
			}
			// Sanity: the dump does hold what is not personal.
			if raw := rawDatabase(t, p.urls["demand"]); !bytes.Contains(raw, []byte(s.demand.GetTitle())) &&
				!bytes.Contains(raw, []byte(hex.EncodeToString([]byte(s.demand.GetTitle())))) {
				t.Error("the demand database dump lacks the demand's title: the dump reads nothing")
			}
		})
	}
}

// rawDatabase returns every byte a copy of the database would show.
func rawDatabase(t *testing.T, url string) []byte {
	t.Helper()
	if path, ok := strings.CutPrefix(url, "sqlite:"); ok {
		path, _, _ = strings.Cut(path, "?")
		var out []byte
		for _, suffix := range []string{"", "-wal", "-journal"} {
			b, err := os.ReadFile(path + suffix)
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			out = append(out, b...)
		}
		return out
	}
	ctx := t.Context()
	db := sqlstoretest.OpenURL(t, url)
	rows, err := db.Query(ctx, `SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) FROM information_schema.tables
		WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	rows.Close()
	var out bytes.Buffer
	for _, table := range tables {
		dumpTable(t, db, table, &out)
	}
	return out.Bytes()
}

func dumpTable(t *testing.T, db *sqlstore.DB, table string, out *bytes.Buffer) {
	t.Helper()
	rows, err := db.Query(t.Context(), `SELECT t::text FROM `+table+` t`)
	if err != nil {
		t.Fatalf("dump %s: %v", table, err)
	}
	defer rows.Close()
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(out, table, line)
	}
}

// personalTypes are the messages that are personal data whole; personalFields the fields that
// are personal data in any message.
var (
	personalTypes  = []protoreflect.FullName{"jiayuan.demand.v1.Reporter", "jiayuan.partner.v1.Contact", "jiayuan.demand.v1.GeoPoint"}
	personalFields = []protoreflect.Name{"reporter", "contact", "phone", "address", "location", "person_name"}
)

func isPersonal(fd protoreflect.FieldDescriptor) bool {
	if slices.Contains(personalFields, fd.Name()) {
		return true
	}
	return fd.Message() != nil && slices.Contains(personalTypes, fd.Message().FullName())
}

// personalPaths lists the fields of md, at any depth, that hold personal data.
func personalPaths(md protoreflect.MessageDescriptor, prefix string, seen map[protoreflect.FullName]bool) []string {
	if seen[md.FullName()] {
		return nil
	}
	seen[md.FullName()] = true
	defer delete(seen, md.FullName())
	var out []string
	for i := 0; i < md.Fields().Len(); i++ {
		fd := md.Fields().Get(i)
		path := prefix + string(fd.Name())
		if isPersonal(fd) {
			out = append(out, path)
			continue
		}
		if fd.Message() != nil && !fd.IsMap() {
			out = append(out, personalPaths(fd.Message(), path+".", seen)...)
		}
	}
	return out
}

// personalSet lists the personal fields m has set, at any depth.
func personalSet(m protoreflect.Message, prefix string) []string {
	var out []string
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		path := prefix + string(fd.Name())
		switch {
		case isPersonal(fd):
			out = append(out, path)
		case fd.IsList() && fd.Message() != nil:
			for i := 0; i < v.List().Len(); i++ {
				out = append(out, personalSet(v.List().Get(i).Message(), fmt.Sprintf("%s[%d].", path, i))...)
			}
		case fd.Message() != nil && !fd.IsMap():
			out = append(out, personalSet(v.Message(), path+".")...)
		}
		return true
	})
	return out
}

// eventFiles are the events.proto of every service.
var eventFiles = map[string]string{
	"partner":    "jiayuan/partner/v1/events.proto",
	"demand":     "jiayuan/demand/v1/events.proto",
	"escalation": "jiayuan/escalation/v1/events.proto",
	"contract":   "jiayuan/contract/v1/events.proto",
	// Reporting only consumes feeds: it declares and emits no event.
	"reporting": "",
}

// TestEventsCarryNoPersonalData walks every event type of every service. From the
// descriptors: an event type whose payload could hold personal data (a reporter, contact,
// phone, home address or exact location, at any depth) must be one the live part of this
// test sees. Live: after records with personal data are filed, every event on each service's
// feed has none of those fields set, and its bytes hold none of the values.
func TestEventsCarryNoPersonalData(t *testing.T) {
	if len(eventFiles) != len(suite.Services()) {
		t.Fatalf("services %v: name each one's events.proto in eventFiles", suite.Names())
	}
	canCarry := map[string][]string{} // event type → its personal paths
	for _, name := range suite.Names() {
		file := eventFiles[name]
		if file == "" {
			continue
		}
		fd, err := protoregistry.GlobalFiles.FindFileByPath(file)
		if err != nil {
			t.Fatalf("%s: %s: %v", name, file, err)
		}
		if fd.Messages().Len() == 0 {
			t.Errorf("%s declares no event", file)
		}
		for i := 0; i < fd.Messages().Len(); i++ {
			md := fd.Messages().Get(i)
			if paths := personalPaths(md, "", map[protoreflect.FullName]bool{}); len(paths) > 0 {
				canCarry[string(md.FullName())] = paths
			}
		}
	}
	// The events that copy a whole record: the service clears its personal fields.
	want := []string{"jiayuan.demand.v1.DemandSubmitted", "jiayuan.partner.v1.PartnerRegistered"}
	for typ, paths := range canCarry {
		if !slices.Contains(want, typ) {
			t.Errorf("%s can carry personal data (%s): drop those fields from the event, or produce it below and check it", typ, strings.Join(paths, ", "))
		}
	}

	p := startPair(t, sqlstoretest.Backends(t)[0])
	s := fileRecords(t, p)
	seen := map[string]int{}
	for name, feed := range p.feeds {
		for _, ev := range watchAll(t, p, feed) {
			seen[ev.GetType()]++
			mt, err := protoregistry.GlobalTypes.FindMessageByURL(ev.GetPayload().GetTypeUrl())
			if err != nil {
				t.Fatalf("%s: event %s: %v", name, ev.GetType(), err)
			}
			msg := mt.New().Interface()
			if err := ev.GetPayload().UnmarshalTo(msg); err != nil {
				t.Fatal(err)
			}
			if set := personalSet(msg.ProtoReflect(), ""); len(set) > 0 {
				t.Errorf("%s: event %s carries %s", name, ev.GetType(), strings.Join(set, ", "))
			}
			for _, v := range s.values() {
				if bytes.Contains(ev.GetPayload().GetValue(), []byte(v)) {
					t.Errorf("%s: event %s holds %q", name, ev.GetType(), v)
				}
			}
		}
	}
	for _, typ := range want {
		if seen[typ] == 0 {
			t.Errorf("no %s on the feeds (saw %v): the live check did not run for it", typ, seen)
		}
	}
}

// watchAll returns the events on the feed so far.
func watchAll(t *testing.T, p *pair, feed eventsv1.EventFeedServiceClient) []*eventsv1.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.as(t, auth.RoleSystem, district), 2*time.Second)
	defer cancel()
	stream, err := feed.Watch(ctx, &eventsv1.WatchRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var out []*eventsv1.Event
	for {
		resp, err := stream.Recv()
		if err != nil {
			// The feed stays open for new events: the deadline ends the read.
			return out
		}
		out = append(out, resp.GetEvents()...)
	}
}
