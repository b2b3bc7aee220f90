package partner_test

import (
	"testing"

	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	"github.com/jiayuan/jiayuan/platform/apierr/apierrtest"
)

// TestControlCharactersRefused: a C0 control character in any string a client writes is
// refused by the proto rules, the same on SQLite and PostgreSQL (which cannot store U+0000 at
// all); tab and newline are kept in long free texts such as a description.
func TestControlCharactersRefused(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		groups := []struct {
			name  string
			edit  func(g *partnerv1.PartnerGroup)
			field string
		}{
			{"NUL in the name", func(g *partnerv1.PartnerGroup) { g.DisplayName = "茶艺\u0000工作室" }, "partner_group.display_name"},
			{"newline in the name", func(g *partnerv1.PartnerGroup) { g.DisplayName = "茶艺\n工作室" }, "partner_group.display_name"},
			{"SOH in the description", func(g *partnerv1.PartnerGroup) { g.Description = "每周三\x01茶艺课" }, "partner_group.description"},
			{"NUL in a tag", func(g *partnerv1.PartnerGroup) { g.Capabilities[0].Tags = []string{"茶\u0000艺"} }, "partner_group.capabilities[0].tags[0]"},
			{"NUL in the contact's name", func(g *partnerv1.PartnerGroup) { g.Contact.PersonName = "覃\u0000雅琴" }, "partner_group.contact.person_name"},
		}
		for _, tt := range groups {
			t.Run(tt.name, func(t *testing.T) {
				g := validGroup()
				tt.edit(g)
				_, err := e.client.CreatePartnerGroup(e.admin(), &partnerv1.CreatePartnerGroupRequest{PartnerGroup: g})
				apierrtest.WantField(t, err, tt.field)
			})
		}
		if n := e.countGroups(); n != 0 {
			t.Fatalf("%d groups written by refused requests", n)
		}

		p := validPartner(peihong)
		p.DisplayName = "唐妈妈\u0000"
		_, err := e.client.CreatePartner(e.admin(), &partnerv1.CreatePartnerRequest{Partner: p})
		apierrtest.WantField(t, err, "partner.display_name")
		p = validPartner(peihong)
		p.Description = "\x01"
		_, err = e.client.CreatePartner(e.admin(), &partnerv1.CreatePartnerRequest{Partner: p})
		apierrtest.WantField(t, err, "partner.description")
		_, err = e.client.ListPartners(e.admin(), &partnerv1.ListPartnersRequest{Filter: "status = ACTIVE\x00"})
		apierrtest.WantField(t, err, "filter")

		// Tab and newline belong in a description written over several lines.
		g := validGroup()
		g.Description = "每周三下午茶艺体验课，\t免费。\n欢迎社区居民参加。"
		resp, err := e.client.CreatePartnerGroup(e.admin(), &partnerv1.CreatePartnerGroupRequest{PartnerGroup: g})
		if err != nil {
			t.Fatalf("a description with tab and newline: %v", err)
		}
		got, err := e.client.GetPartnerGroup(e.admin(), &partnerv1.GetPartnerGroupRequest{Name: resp.GetPartnerGroup().GetName()})
		if err != nil || got.GetPartnerGroup().GetDescription() != g.GetDescription() {
			t.Fatalf("stored description %q (%v), want %q", got.GetPartnerGroup().GetDescription(), err, g.GetDescription())
		}
	})
}
