package httpapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/hookd/hookd"
)

func isNotFound(err error) bool { return errors.Is(err, hookd.ErrNotFound) }

func tenantErr(id string, err error) error {
	if isNotFound(err) {
		return errorf(hookd.ErrNotFound, "tenant "+id+" not found")
	}
	return err
}

type tenantInput struct {
	ID   Opt[string] `json:"id"`
	Name Opt[string] `json:"name"`
}

func (s *Server) createTenant(w http.ResponseWriter, r *http.Request) error {
	var in tenantInput
	if err := decode(r, &in); err != nil {
		return err
	}
	v := &hookd.ValidationError{}
	t := &hookd.Tenant{}
	if in.ID.ok(v, "id", "a string") {
		t.ID = in.ID.V
	} else if !in.ID.Set {
		v.Add("id", "is required")
	}
	if in.Name.ok(v, "name", "a string") {
		t.Name = in.Name.V
	} else if !in.Name.Set {
		v.Add("name", "is required")
	}
	if err := s.svc.CreateTenant(r.Context(), t, v); err != nil {
		return err
	}
	s.writeJSON(w, http.StatusCreated, t)
	return nil
}

func (s *Server) listTenants(w http.ResponseWriter, r *http.Request) error {
	page, err := pageParams(r, 50, 250)
	if err != nil {
		return err
	}
	list, total, err := s.store.ListTenants(r.Context(), hookd.TenantQuery{Page: page})
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"data": list, "total": total, "limit": page.Limit, "offset": page.Offset})
	return nil
}

func (s *Server) getTenant(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("tenantId")
	t, err := s.store.GetTenant(r.Context(), id)
	if err != nil {
		return tenantErr(id, err)
	}
	s.writeJSON(w, http.StatusOK, t)
	return nil
}

func (s *Server) updateTenant(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name Opt[string] `json:"name"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	t, err := s.svc.UpdateTenant(r.Context(), r.PathValue("tenantId"), func(t *hookd.Tenant, v *hookd.ValidationError) {
		if in.Name.ok(v, "name", "a string") {
			t.Name = in.Name.V
		}
	})
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusOK, t)
	return nil
}

func (s *Server) deleteTenant(w http.ResponseWriter, r *http.Request) error {
	longDelete(w)
	if err := s.svc.DeleteTenant(r.Context(), r.PathValue("tenantId")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) createAPIKey(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name Opt[string] `json:"name"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	v := &hookd.ValidationError{}
	if !in.Name.ok(v, "name", "a string") && !in.Name.Set {
		v.Add("name", "is required")
	}
	if err := v.Err(); err != nil {
		return err
	}
	k, key, err := s.svc.CreateAPIKey(r.Context(), r.PathValue("tenantId"), in.Name.V)
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusCreated, map[string]any{"id": k.ID, "name": k.Name, "key": key, "createdAt": k.CreatedAt})
	return nil
}

func (s *Server) listAPIKeys(w http.ResponseWriter, r *http.Request) error {
	keys, err := s.store.ListAPIKeys(r.Context(), r.PathValue("tenantId"))
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"data": keys})
	return nil
}

func (s *Server) deleteAPIKey(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.DeleteAPIKey(r.Context(), r.PathValue("tenantId"), r.PathValue("keyId")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// longDelete lifts the server's write timeout from a delete's answer: a
// long history goes in steps that may outlast it (the delete itself runs
// to the end either way, its caller gone or not).
func longDelete(w http.ResponseWriter) {
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
}
