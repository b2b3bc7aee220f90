package demand_test

import (
	"testing"

	"google.golang.org/protobuf/types/known/fieldmaskpb"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	"github.com/jiayuan/jiayuan/platform/apierr/apierrtest"
)

// TestControlCharactersAndURLsRefused: a C0 control character in any string a client writes is
// refused by the proto rules, the same on SQLite and PostgreSQL (which cannot store U+0000 at
// all), and attachments take only https links (http only on the local machine). Tab and newline
// are kept in long free texts.
func TestControlCharactersAndURLsRefused(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		tests := []struct {
			name  string
			edit  func(d *demandv1.Demand)
			field string
		}{
			{"NUL in the title", func(d *demandv1.Demand) { d.Title = "楼道\u0000灯坏了" }, "demand.title"},
			{"escape in the title", func(d *demandv1.Demand) { d.Title = "楼道灯坏了\x1b[2J" }, "demand.title"},
			{"newline in the title", func(d *demandv1.Demand) { d.Title = "楼道灯\n坏了" }, "demand.title"},
			{"SOH in the description", func(d *demandv1.Demand) { d.Description = "三楼\x01到五楼" }, "demand.description"},
			{"carriage return in the description", func(d *demandv1.Demand) { d.Description = "三楼\r到五楼" }, "demand.description"},
			{"NUL in the address", func(d *demandv1.Demand) { d.Address = "江南区\u0000星光大道" }, "demand.address"},
			{"NUL in the reporter's name", func(d *demandv1.Demand) { d.Reporter.Name = "覃\u0000秀兰" }, "demand.reporter.name"},
			{"javascript: attachment", func(d *demandv1.Demand) { d.AttachmentUrls = []string{"javascript:alert(1)"} }, "demand.attachment_urls[0]"},
			{"file: attachment", func(d *demandv1.Demand) {
				d.AttachmentUrls = []string{"https://img.example.cn/a.jpg", "file:///etc/passwd"}
			}, "demand.attachment_urls[1]"},
			{"data: attachment", func(d *demandv1.Demand) { d.AttachmentUrls = []string{"data:text/html,<script>alert(1)</script>"} }, "demand.attachment_urls[0]"},
			{"http attachment on another host", func(d *demandv1.Demand) { d.AttachmentUrls = []string{"http://img.example.cn/a.jpg"} }, "demand.attachment_urls[0]"},
			{"http attachment posing as localhost", func(d *demandv1.Demand) { d.AttachmentUrls = []string{"http://localhost@evil.example/a.jpg"} }, "demand.attachment_urls[0]"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				d := needOf("楼道灯坏了")
				tt.edit(d)
				_, err := e.client.CreateDemand(e.staff(), &demandv1.CreateDemandRequest{Demand: d})
				apierrtest.WantField(t, err, tt.field)
			})
		}
		if n := e.countDemands(); n != 0 {
			t.Fatalf("%d demands written by refused requests", n)
		}

		// Tab and newline belong in a resident's own words; https links, and http on the local
		// machine (jiayuan dev), are attachments.
		d := needOf("周三下午孩子无人看管")
		d.Description = "周三下午三点放学，\t家长六点才下班。\n希望社区帮忙看管。"
		d.AttachmentUrls = []string{"https://img.example.cn/notice.jpg", "HTTPS://img.example.cn/b.jpg?x=1", "http://localhost:8080/a.jpg", "http://127.0.0.1/b.png"}
		got := e.getDemand(e.staff(), e.createDemand(e.staff(), d).GetName())
		if got.GetDescription() != d.GetDescription() || len(got.GetAttachmentUrls()) != 4 {
			t.Fatalf("stored description %q and %d attachments, want %q and 4", got.GetDescription(), len(got.GetAttachmentUrls()), d.GetDescription())
		}

		// An update is held to the same rules as a create.
		_, err := e.client.UpdateDemand(e.staff(), &demandv1.UpdateDemandRequest{
			Demand:     &demandv1.Demand{Name: got.GetName(), Title: "周三\u0000下午", Etag: got.GetEtag()},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}},
		})
		apierrtest.WantField(t, err, "demand.title")

		// And so is every free text a verb takes.
		_, err = e.client.ReplyToDemand(e.staff(), &demandv1.ReplyToDemandRequest{Name: got.GetName(), Message: "已受理\x07"})
		apierrtest.WantField(t, err, "message")
		if _, err := e.client.ReplyToDemand(e.staff(), &demandv1.ReplyToDemandRequest{Name: got.GetName(), Message: "已受理。\n周三前联系您。"}); err != nil {
			t.Fatalf("a reply over two lines: %v", err)
		}
		_, err = e.client.ListDemands(e.staff(), &demandv1.ListDemandsRequest{Filter: "kind = NEED\u0000"})
		apierrtest.WantField(t, err, "filter")
		_, err = e.client.CreateMeeting(e.staff(), &demandv1.CreateMeetingRequest{Meeting: &demandv1.Meeting{
			Kind: demandv1.MeetingKind_MEETING_KIND_FOURTH_DAY, CommunityCode: erqiao, MeetingDate: "2026-03-04", Host: "黄\u0000书记",
		}})
		apierrtest.WantField(t, err, "meeting.host")
	})
}
