package httpapi

import (
	"net/http"
	"slices"
	"strings"

	"github.com/hookd/hookd"
)

func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) error {
	limit, err := cursorLimit(r)
	if err != nil {
		return err
	}
	q := hookd.AuditQuery{TenantID: r.PathValue("tenantId"), Action: r.URL.Query().Get("action"), TargetID: r.URL.Query().Get("targetId"), Limit: limit + 1}
	if q.Action != "" && !slices.Contains(hookd.AuditActions, q.Action) {
		return hookd.BadRequest("query parameter action must be one of %s", strings.Join(hookd.AuditActions, ", "))
	}
	if q.Since, q.Until, err = queryWindow(r); err != nil {
		return err
	}
	if c := r.URL.Query().Get("cursor"); c != "" {
		if q.Before, err = decodeCursor(c); err != nil {
			return err
		}
	}
	list, err := s.store.ListAudit(r.Context(), q)
	if err != nil {
		return err
	}
	var next any
	if len(list) > limit {
		list = list[:limit]
		next = encodeCursor(list[limit-1].Seq)
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"data": list, "nextCursor": next})
	return nil
}
