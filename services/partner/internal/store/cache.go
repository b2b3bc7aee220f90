package store

import (
	"fmt"

	lru "github.com/hashicorp/golang-lru/v2"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
)

// recordCacheSize bounds the decoded records a Store keeps: a district's whole partner
// population (thousands), at about 1.5 KB a record, within the service's memory limit.
const recordCacheSize = 20000

// recordCache keeps decoded party records by name, each valid for exactly one version: a
// search reads the versions of its candidates from the database and decodes only those it
// does not hold at that version, so a changed record is never served from memory. A Store
// serves one database, so a name and version identify one record.
type recordCache struct {
	lru *lru.Cache[string, cachedRecord]
}

type cachedRecord struct {
	version int64
	data    []byte
	basic   []byte // data without the status history
	party   Party  // shared: read, never changed
}

func newRecordCache(size int) *recordCache {
	c, err := lru.New[string, cachedRecord](size)
	if err != nil {
		panic(fmt.Sprintf("store: record cache of size %d: %v", size, err)) // only for size <= 0
	}
	return &recordCache{lru: c}
}

// get returns the record called name at version, if held.
func (c *recordCache) get(name string, version int64) (cachedRecord, bool) {
	r, ok := c.lru.Get(name)
	if !ok || r.version != version {
		return cachedRecord{}, false
	}
	return r, true
}

// decode decodes a record read from the database and keeps it.
func (c *recordCache) decode(name string, version int64, data []byte) (cachedRecord, error) {
	party := newParty(name)
	if err := proto.Unmarshal(data, party); err != nil {
		return cachedRecord{}, fmt.Errorf("decode %s: %w", name, err)
	}
	basic, err := withoutField(data, party.ProtoReflect().Descriptor().Fields().ByName("status_history").Number())
	if err != nil {
		return cachedRecord{}, fmt.Errorf("decode %s: %w", name, err)
	}
	r := cachedRecord{version: version, data: data, basic: basic, party: party}
	c.lru.Add(name, r)
	return r, nil
}

// withoutField returns the encoded message b without field n, by its wire format alone.
func withoutField(b []byte, n protowire.Number) ([]byte, error) {
	out := make([]byte, 0, len(b))
	for len(b) > 0 {
		num, typ, tagLen := protowire.ConsumeTag(b)
		if tagLen < 0 {
			return nil, protowire.ParseError(tagLen)
		}
		valLen := protowire.ConsumeFieldValue(num, typ, b[tagLen:])
		if valLen < 0 {
			return nil, protowire.ParseError(valLen)
		}
		if num != n {
			out = append(out, b[:tagLen+valLen]...)
		}
		b = b[tagLen+valLen:]
	}
	return out, nil
}

func newParty(name string) Party {
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
	rec     cachedRecord
}

// Own decodes the caller's own copy of the candidate: the whole record with its status
// history, or without it.
func (c Candidate) Own(withHistory bool) (ListedParty, error) {
	data := c.rec.basic
	if withHistory {
		data = c.rec.data
	}
	party := newParty(c.Party.GetName())
	if err := proto.Unmarshal(data, party); err != nil {
		return ListedParty{}, fmt.Errorf("decode %s: %w", c.Party.GetName(), err)
	}
	return ListedParty{Party: party, Version: c.Version}, nil
}
