package api

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	escalationv1 "github.com/jiayuan/jiayuan/gen/jiayuan/escalation/v1"
	"github.com/jiayuan/jiayuan/platform/resource"
	"github.com/jiayuan/jiayuan/services/escalation/internal/domain"
	"github.com/jiayuan/jiayuan/services/escalation/internal/store"
)

// UnitPayload is the JSON body of a call to the district's messaging gateway telling a unit of
// a case (docs/notifications.md, "Units"). It holds no personal data: the case's title and
// place, never the resident.
type UnitPayload struct {
	// ID is the notification's id, also the call's Idempotency-Key.
	ID string `json:"id"`
	// Notification is its name, "cases/{case}/notifications/{id}".
	Notification string `json:"notification"`
	// Case is the case it is about, "cases/{case}".
	Case string `json:"case"`
	// Kind is the step it tells of: OPENED, ASSIGNED, ESCALATED, …, WARNED, DUTY_OVERDUE.
	Kind string `json:"kind"`
	// Message is the text to send.
	Message   string        `json:"message"`
	Recipient UnitRecipient `json:"recipient"`
	// Urgent messages are sent during quiet hours too (a red case given to a unit).
	Urgent bool `json:"urgent"`
	// AcknowledgeDeadline and ResolveDeadline are the case's, RFC 3339 (absent when none).
	AcknowledgeDeadline *time.Time `json:"acknowledge_deadline,omitempty"`
	ResolveDeadline     *time.Time `json:"resolve_deadline,omitempty"`
	CreateTime          time.Time  `json:"create_time"`
}

// UnitRecipient is the unit a message goes to: its name, what people read, the person
// assigned if any, and its contact from rules.yaml (departments[].contact, offices[].contact)
// when the district configured one; without one the gateway routes by unit.
type UnitRecipient struct {
	// Kind is always UNIT (residents' notifications carry REPORTER or SUPPORTER).
	Kind        string `json:"kind"`
	Unit        string `json:"unit"`
	DisplayName string `json:"display_name"`
	Assignee    string `json:"assignee,omitempty"`
	Contact     string `json:"contact,omitempty"`
}

// unitContact is the contact rules.yaml gives the unit, "" when none.
func (s *Server) unitContact(unit string) string {
	if code, ok := strings.CutPrefix(unit, domain.RegionUnitPrefix); ok {
		c, _ := s.rules.OfficeContact(code)
		return c
	}
	if id, ok := strings.CutPrefix(unit, domain.DepartmentUnitPrefix); ok {
		if d, ok := s.rules.Department(id); ok {
			return d.Contact
		}
	}
	return ""
}

// notifyUnit writes the message the unit of c is sent about a step of kind to the outbox, in
// the step's transaction, when the step is one units are told of: a case given to a unit only
// when the unit or assignee is not the one last told (a colour confirmed where it stood tells
// nobody again); a reopened case always. Escalations move the case to another office, so they
// never need the lookup (the sweeper's batch stays one read).
func (s *Server) notifyUnit(ctx context.Context, t *resource.Tx, c *escalationv1.Case, kind escalationv1.CaseEventKind, reason string) error {
	notify, assignment := domain.UnitNotice(kind)
	if !notify || !domain.Open(c.GetStatus()) {
		return nil
	}
	if assignment && (kind == escalationv1.CaseEventKind_CASE_EVENT_KIND_CLASSIFIED || kind == escalationv1.CaseEventKind_CASE_EVENT_KIND_ASSIGNED) {
		unit, assignee, ok, err := s.store.LastToldUnit(ctx, t, c.GetName())
		if err != nil {
			return err
		}
		if ok && unit == c.GetUnit() && assignee == c.GetAssignee() {
			return nil
		}
	}
	urgent := domain.UnitUrgent(c, kind)
	due, held := t.Now, false
	if !urgent {
		if until, quiet := s.quiet.Until(t.Now); quiet {
			due, held = until, true
		}
	}
	p := UnitPayload{
		Case: c.GetName(), Kind: strings.TrimPrefix(kind.String(), "CASE_EVENT_KIND_"), Message: domain.UnitMessage(c, kind, reason),
		Urgent: urgent, CreateTime: t.Now.UTC(),
		Recipient: UnitRecipient{Kind: "UNIT", Unit: c.GetUnit(), DisplayName: c.GetUnitDisplayName(), Assignee: c.GetAssignee(),
			Contact: s.unitContact(c.GetUnit())},
	}
	if d := c.GetAcknowledgeDeadline(); d != nil && c.GetAcknowledgeTime() == nil {
		at := d.AsTime().UTC()
		p.AcknowledgeDeadline = &at
	}
	if d := c.GetResolveDeadline(); d != nil {
		at := d.AsTime().UTC()
		p.ResolveDeadline = &at
	}
	_, err := s.store.EnqueueUnitNotification(ctx, t.Tx, store.UnitMessage{
		Case: c.GetName(), Kind: kind, Unit: c.GetUnit(), Assignee: c.GetAssignee(), Urgent: urgent, Time: t.Now, Due: due, Held: held,
		Body: func(name, id string) ([]byte, error) {
			p.ID, p.Notification = id, name
			return json.Marshal(p)
		},
	}, s.wake)
	return err
}
