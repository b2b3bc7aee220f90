package aip

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
)

func TestApplyFieldMask(t *testing.T) {
	updatable := []string{"display_name", "contact", "description"}
	base := func() *partnerv1.Partner {
		return &partnerv1.Partner{
			Name: "partners/A", DisplayName: "old", Description: "keep",
			Contact: &partnerv1.Contact{PersonName: "张三", Phone: "13800000000"},
			Status:  partnerv1.PartnerStatus_PARTNER_STATUS_ACTIVE,
		}
	}
	src := &partnerv1.Partner{DisplayName: "new", Contact: &partnerv1.Contact{Phone: "13911112222"}, Status: partnerv1.PartnerStatus_PARTNER_STATUS_WITHDRAWN}
	tests := []struct {
		name    string
		paths   []string
		want    func(p *partnerv1.Partner)
		wantErr bool
	}{
		{name: "one field", paths: []string{"display_name"}, want: func(p *partnerv1.Partner) { p.DisplayName = "new" }},
		{name: "json name is not a path", paths: []string{"displayName"}, wantErr: true},
		{name: "nested", paths: []string{"contact.phone"}, want: func(p *partnerv1.Partner) { p.Contact.Phone = "13911112222" }},
		{name: "clears absent", paths: []string{"description"}, want: func(p *partnerv1.Partner) { p.Description = "" }},
		{name: "star", paths: []string{"*"}, want: func(p *partnerv1.Partner) {
			p.DisplayName, p.Description = "new", ""
			p.Contact = &partnerv1.Contact{Phone: "13911112222"}
		}},
		{name: "output only refused", paths: []string{"status"}, wantErr: true},
		{name: "unknown refused", paths: []string{"nope"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := base()
			err := ApplyFieldMask(dst, src, &fieldmaskpb.FieldMask{Paths: tt.paths}, updatable)
			if tt.wantErr {
				var fe *FieldMaskError
				if !errors.As(err, &fe) {
					t.Fatalf("err = %v, want FieldMaskError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := base()
			tt.want(want)
			if !proto.Equal(dst, want) {
				t.Fatalf("got %v\nwant %v", dst, want)
			}
		})
	}
}
