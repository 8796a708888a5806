package console

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/hookd/hookd"
)

func (s *Server) auditPage(w http.ResponseWriter, r *http.Request, v *visit) error {
	q := hookd.AuditQuery{TenantID: v.tenant.ID, Action: r.URL.Query().Get("action"), TargetID: r.URL.Query().Get("target"), Limit: 51}
	if b, err := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64); err == nil && b > 0 {
		q.Before = b
	}
	list, err := s.store.ListAudit(r.Context(), q)
	if err != nil {
		return err
	}
	data := map[string]any{"Action": q.Action, "Target": q.TargetID, "Actions": hookd.AuditActions, "Paged": q.Before != 0}
	if len(list) > 50 {
		list = list[:50]
		next := url.Values{"before": {strconv.FormatInt(list[49].Seq, 10)}}
		if q.Action != "" {
			next.Set("action", q.Action)
		}
		if q.TargetID != "" {
			next.Set("target", q.TargetID)
		}
		data["Next"] = "/console/audit?" + next.Encode()
	}
	data["Entries"] = list
	s.render(w, r, v, http.StatusOK, "audit", "Audit log", data)
	return nil
}
