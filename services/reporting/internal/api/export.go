package api

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"net/url"
	"strconv"

	"github.com/xuri/excelize/v2"
	httpbody "google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	reportingv1 "github.com/jiayuan/jiayuan/gen/jiayuan/reporting/v1"
	"github.com/jiayuan/jiayuan/platform/apierr"
	"github.com/jiayuan/jiayuan/platform/auth"
)

// Content types of the exports.
const (
	ContentTypeCSV  = "text/csv; charset=utf-8"
	ContentTypeXLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
)

// headlineRows are the headline's lines as exports print them: a Chinese header and the value.
func headlineRows(f *reportingv1.Figures) [][2]string {
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	pct := func(v float64) string { return strconv.FormatFloat(100*v, 'f', 1, 64) + "%" }
	hours := func(f *reportingv1.Figures, first bool) string {
		d := f.GetMedianResolution()
		if first {
			d = f.GetMedianFirstReply()
		}
		if d == nil {
			return ""
		}
		return strconv.FormatFloat(d.AsDuration().Hours(), 'f', 0, 64)
	}
	return [][2]string{
		{"合伙群体（个）", n(f.GetPartnerGroups())},
		{"合伙人（名）", n(f.GetPartners())},
		{"项目（个）", n(f.GetProjects())},
		{"解决民生实事（件）", n(f.GetMattersSolved())},
		{"志愿服务场次（场）", n(f.GetServiceSessions())},
		{"惠及群众（人次）", n(f.GetPeopleServed())},
		{"志愿服务时长（小时）", n(f.GetVolunteerHours())},
		{"收集需求和问题（件）", n(f.GetDemands())},
		{"需求匹配合伙人（件）", n(f.GetNeedsMatched())},
		{"立案（件）", n(f.GetCasesOpened())},
		{"升级（次）", n(f.GetEscalations())},
		{"办结案件（件）", n(f.GetCasesClosed())},
		{"按时办结（件）", n(f.GetCasesOnTime())},
		{"按时办结率", pct(f.GetOnTimeRate())},
		{"未解决办结（件）", n(f.GetClosedUnresolved())},
		{"评价（条）", n(f.GetRatings())},
		{"满意及基本满意（条）", n(f.GetSatisfiedRatings())},
		{"满意率", pct(f.GetSatisfactionRate())},
		{"首次答复用时中位数（小时）", hours(f, true)},
		{"解决用时中位数（小时）", hours(f, false)},
		{"召开会议（场）", n(f.GetMeetingsHeld())},
		{"履约中契约（份）", n(f.GetContractsActive())},
		{"履约完成契约（份）", n(f.GetContractsFulfilled())},
		{"违约契约（份）", n(f.GetContractsBreached())},
		{"合伙人不活跃提醒（次）", n(f.GetInactivePartnerAlerts())},
	}
}

// breakdowns are the figures' tallies, each with the sheet name it is exported under.
func breakdowns(f *reportingv1.Figures) []struct {
	sheet, header string
	tallies       []*reportingv1.Tally
} {
	type b = struct {
		sheet, header string
		tallies       []*reportingv1.Tally
	}
	return []b{
		{"合伙群体状态", "状态", f.GetPartnerGroupsByStatus()},
		{"合伙人状态", "状态", f.GetPartnersByStatus()},
		{"招募渠道", "渠道", f.GetRecruitedByChannel()},
		{"合伙人领域", "领域", f.GetPartnersByField()},
		{"项目状态", "状态", f.GetProjectsByStatus()},
		{"项目清单类型", "清单类型", f.GetProjectsByListType()},
		{"需求类型", "类型", f.GetDemandsByKind()},
		{"需求类别", "类别", f.GetDemandsByCategory()},
		{"收集渠道", "渠道", f.GetDemandsByChannel()},
		{"需求状态", "状态", f.GetDemandsByStatus()},
		{"三色清单", "颜色", f.GetCasesByColour()},
		{"会议类型", "类型", f.GetMeetingsByKind()},
	}
}

// ExportReport implements reportingv1.ReportServiceServer.
func (s *Server) ExportReport(ctx context.Context, req *reportingv1.ExportReportRequest) (*httpbody.HttpBody, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	node, err := s.checkRegion(p, req.GetRegionCode())
	if err != nil {
		return nil, err
	}
	per, err := checkPeriod(req.GetPeriod())
	if err != nil {
		return nil, err
	}
	bd, err := s.breakdown(ctx, node.Code, per)
	if err != nil {
		return nil, err
	}
	title := fmt.Sprintf("%s %s至%s", node.Name, req.GetPeriod().GetStartDate(), req.GetPeriod().GetEndDate())
	var body []byte
	var contentType, ext string
	switch req.GetFormat() {
	case reportingv1.ExportFormat_EXPORT_FORMAT_CSV:
		body, err = exportCSV(title, bd)
		contentType, ext = ContentTypeCSV, "csv"
	case reportingv1.ExportFormat_EXPORT_FORMAT_XLSX:
		body, err = exportXLSX(title, bd)
		contentType, ext = ContentTypeXLSX, "xlsx"
	default:
		return nil, apierr.InvalidArgument("format", "is not an export format")
	}
	if err != nil {
		return nil, apierr.Internal(err)
	}
	ascii := fmt.Sprintf("report-%s-%s-%s.%s", node.Code, req.GetPeriod().GetStartDate(), req.GetPeriod().GetEndDate(), ext)
	chinese := fmt.Sprintf("%s报表-%s-%s.%s", node.Name, req.GetPeriod().GetStartDate(), req.GetPeriod().GetEndDate(), ext)
	// The gateway copies this header onto the download (gateway/body.go, rawBodyHeaders).
	disposition := fmt.Sprintf(`attachment; filename="%s"; filename*=UTF-8''%s`, ascii, url.PathEscape(chinese))
	if err := grpc.SetHeader(ctx, metadata.Pairs("content-disposition", disposition)); err != nil {
		s.log.WarnContext(ctx, "export: cannot set the file name header", "error", err)
	}
	auth.AuditRead(ctx, s.log, p, "reports export "+node.Code)
	return &httpbody.HttpBody{ContentType: contentType, Data: body}, nil
}

func exportCSV(title string, bd *reportingv1.GetBreakdownResponse) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString("\ufeff") // a byte-order mark: spreadsheet programs then read UTF-8
	w := csv.NewWriter(&buf)
	total := bd.GetTotal().GetFigures()
	rows := [][]string{{title}, {"指标", "数值"}}
	for _, r := range headlineRows(total) {
		rows = append(rows, []string{r[0], r[1]})
	}
	rows = append(rows, nil, childHeader())
	rows = append(rows, childRows(bd)...)
	for _, b := range breakdowns(total) {
		rows = append(rows, nil, []string{b.sheet}, []string{b.header, "代码", "数量"})
		for _, t := range b.tallies {
			rows = append(rows, []string{t.GetLabel(), t.GetKey(), strconv.FormatInt(t.GetValue(), 10)})
		}
	}
	if err := w.WriteAll(rows); err != nil {
		return nil, fmt.Errorf("write csv: %w", err)
	}
	return buf.Bytes(), nil
}

// childHeader is the header of the by-child-region table: the region, then the headline's lines.
func childHeader() []string {
	h := []string{"区域代码", "区域名称"}
	for _, r := range headlineRows(&reportingv1.Figures{}) {
		h = append(h, r[0])
	}
	return h
}

func childRows(bd *reportingv1.GetBreakdownResponse) [][]string {
	var rows [][]string
	for _, c := range append(bd.GetChildren(), bd.GetTotal()) {
		name := c.GetRegionName()
		if c == bd.GetTotal() {
			name += "（合计）"
		}
		row := []string{c.GetRegionCode(), name}
		for _, r := range headlineRows(c.GetFigures()) {
			row = append(row, r[1])
		}
		rows = append(rows, row)
	}
	return rows
}

func exportXLSX(title string, bd *reportingv1.GetBreakdownResponse) (_ []byte, err error) {
	f := excelize.NewFile()
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close workbook: %w", cerr)
		}
	}()
	write := func(sheet string, rows [][]string) error {
		for i, row := range rows {
			cell, err := excelize.CoordinatesToCellName(1, i+1)
			if err != nil {
				return err
			}
			vals := make([]any, len(row))
			for j, v := range row {
				// Numbers as numbers, so sums work in the sheet.
				if n, err := strconv.ParseInt(v, 10, 64); err == nil && j > 0 {
					vals[j] = n
				} else {
					vals[j] = v
				}
			}
			if err := f.SetSheetRow(sheet, cell, &vals); err != nil {
				return err
			}
		}
		return nil
	}
	total := bd.GetTotal().GetFigures()
	if err := f.SetSheetName("Sheet1", "汇总"); err != nil {
		return nil, fmt.Errorf("workbook: %w", err)
	}
	rows := [][]string{{title}, {"指标", "数值"}}
	for _, r := range headlineRows(total) {
		rows = append(rows, []string{r[0], r[1]})
	}
	if err := write("汇总", rows); err != nil {
		return nil, fmt.Errorf("workbook: %w", err)
	}
	if _, err := f.NewSheet("下级区域"); err != nil {
		return nil, fmt.Errorf("workbook: %w", err)
	}
	if err := write("下级区域", append([][]string{childHeader()}, childRows(bd)...)); err != nil {
		return nil, fmt.Errorf("workbook: %w", err)
	}
	for _, b := range breakdowns(total) {
		if _, err := f.NewSheet(b.sheet); err != nil {
			return nil, fmt.Errorf("workbook: %w", err)
		}
		rows := [][]string{{b.header, "代码", "数量"}}
		for _, t := range b.tallies {
			rows = append(rows, []string{t.GetLabel(), t.GetKey(), strconv.FormatInt(t.GetValue(), 10)})
		}
		if err := write(b.sheet, rows); err != nil {
			return nil, fmt.Errorf("workbook: %w", err)
		}
	}
	buf, err := f.WriteToBuffer()
	if err != nil {
		return nil, fmt.Errorf("write workbook: %w", err)
	}
	return buf.Bytes(), nil
}
