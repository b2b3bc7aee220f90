package store

import (
	"fmt"
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
)

// recordCacheSize bounds the decoded records a Store keeps: room for a district's whole
// partner population, which is thousands. Full, it holds about 35 MiB (measured: 1.8 KB a
// partner with two capabilities, two windows and three status changes), well within the
// partner Deployment's 256 MiB limit.
const recordCacheSize = 20000

// recordCache keeps decoded party records by name, each valid for exactly one version: a
// search reads the versions of its candidates from the database and decodes only those it
// does not hold at that version, so a changed record is never served from memory. A Store
// serves one database, so a name and version identify one record.
//
// One lock guards an LRU that is not safe alone: a search takes it once for all its
// candidates (getAll), not once per candidate. Taken per candidate, by 16 concurrent matches
// of a few hundred candidates each, the lock was 5% of a match's CPU.
type recordCache struct {
	mu  sync.Mutex
	lru *simplelru.LRU[string, cachedRecord]
}

type cachedRecord struct {
	version int64
	party   Party // shared: read, never changed
}

func newRecordCache(size int) *recordCache {
	c, err := simplelru.NewLRU[string, cachedRecord](size, nil)
	if err != nil {
		panic(fmt.Sprintf("store: record cache of size %d: %v", size, err)) // only for size <= 0
	}
	return &recordCache{lru: c}
}

// get returns the record called name at version, if held.
func (c *recordCache) get(name string, version int64) (cachedRecord, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.getLocked(name, version)
}

func (c *recordCache) getLocked(name string, version int64) (cachedRecord, bool) {
	r, ok := c.lru.Get(name)
	if !ok || r.version != version {
		return cachedRecord{}, false
	}
	return r, true
}

// getAll appends to out the candidates among found that it holds at their versions, and
// returns the names of the others, under one lock.
func (c *recordCache) getAll(found []offered, out []Candidate) ([]Candidate, []string) {
	var missing []string
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range found {
		if r, ok := c.getLocked(f.name, f.version); ok {
			out = append(out, Candidate{Party: r.party, Version: r.version})
		} else {
			missing = append(missing, f.name)
		}
	}
	return out, missing
}

// keep holds a record decoded from the database.
func (c *recordCache) keep(name string, version int64, party Party) cachedRecord {
	r := cachedRecord{version: version, party: party}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lru.Add(name, r)
	return r
}

// NewParty returns an empty record of the kind name calls for, to read into.
func NewParty(name string) Party {
	if KindOf(name) == KindGroup {
		return &partnerv1.PartnerGroup{}
	}
	return &partnerv1.Partner{}
}

// Candidate is a party a search found. Party is shared with other searches and must not be
// changed: it is for ranking. Own returns the caller's own copy, to mask and send.
type Candidate struct {
	Party   Party
	Version int64
}

// Own returns the caller's own copy of the candidate, with or without its status history.
// The copy's fields and its contact are its own, to set and to mask; its lists and other
// nested messages are still shared with the cache and, like Party, only read. Field by
// field, because decoding the record again, or copying it by reflection, took a third of the
// partner's time in a match; TestOwnCopiesEveryField fails when a field is added and not here.
func (c Candidate) Own(withHistory bool) ListedParty {
	var party Party
	switch v := c.Party.(type) {
	case *partnerv1.Partner:
		p := &partnerv1.Partner{
			Name: v.Name, DisplayName: v.DisplayName, Group: v.Group, RegionCode: v.RegionCode,
			Capabilities: v.Capabilities, ServiceAreas: v.ServiceAreas, Availability: v.Availability,
			RecruitmentChannel: v.RecruitmentChannel, Contact: cloneContact(v.Contact), Description: v.Description,
			Status: v.Status, CreateTime: v.CreateTime, UpdateTime: v.UpdateTime, Etag: v.Etag,
		}
		if withHistory {
			p.StatusHistory = v.StatusHistory
		}
		party = p
	case *partnerv1.PartnerGroup:
		g := &partnerv1.PartnerGroup{
			Name: v.Name, DisplayName: v.DisplayName, Kind: v.Kind, CreditCode: v.CreditCode, RegionCode: v.RegionCode,
			Capabilities: v.Capabilities, ServiceAreas: v.ServiceAreas, Availability: v.Availability,
			RecruitmentChannel: v.RecruitmentChannel, Contact: cloneContact(v.Contact), Description: v.Description,
			Status: v.Status, MemberCount: v.MemberCount, CreateTime: v.CreateTime, UpdateTime: v.UpdateTime, Etag: v.Etag,
		}
		if withHistory {
			g.StatusHistory = v.StatusHistory
		}
		party = g
	default:
		panic(fmt.Sprintf("store: a party of type %T", c.Party)) // the cache decodes only these two
	}
	return ListedParty{Party: party, Version: c.Version}
}

// Select returns the caller's own copy of the candidate with only its name and the named
// top-level fields: a partial response (AIP-157). A name the party's kind lacks is skipped.
// As with Own, the copy's fields and singular messages (the contact above all) are its own;
// its lists are shared with the cache and only read. By reflection, because it copies only a
// few fields; Own is faster for a whole record.
func (c Candidate) Select(fields []protoreflect.Name) ListedParty {
	if len(fields) == 0 || (len(fields) == 1 && fields[0] == "name") {
		// The name alone, as a match reads hundreds of candidates: no reflection.
		switch v := c.Party.(type) {
		case *partnerv1.Partner:
			return ListedParty{Party: &partnerv1.Partner{Name: v.GetName()}, Version: c.Version}
		case *partnerv1.PartnerGroup:
			return ListedParty{Party: &partnerv1.PartnerGroup{Name: v.GetName()}, Version: c.Version}
		}
	}
	src := c.Party.ProtoReflect()
	dst := src.New()
	all := src.Descriptor().Fields()
	copyField := func(fd protoreflect.FieldDescriptor) {
		if fd == nil || !src.Has(fd) {
			return
		}
		v := src.Get(fd)
		if fd.Message() != nil && fd.Cardinality() != protoreflect.Repeated {
			v = protoreflect.ValueOfMessage(proto.Clone(v.Message().Interface()).ProtoReflect())
		}
		dst.Set(fd, v)
	}
	copyField(all.ByName("name"))
	for _, f := range fields {
		copyField(all.ByName(f))
	}
	return ListedParty{Party: dst.Interface().(Party), Version: c.Version}
}

func cloneContact(c *partnerv1.Contact) *partnerv1.Contact {
	if c == nil {
		return nil
	}
	return proto.CloneOf(c)
}
