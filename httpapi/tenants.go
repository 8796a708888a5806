package httpapi

import (
	"errors"
	"net/http"

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
	t := &hookd.Tenant{CreatedAt: s.clock.Now()}
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
	if len(v.Details) == 0 {
		if err := t.Validate(); err != nil {
			return err
		}
	}
	if err := v.Err(); err != nil {
		return err
	}
	if err := s.store.CreateTenant(r.Context(), t); err != nil {
		if errors.Is(err, hookd.ErrConflict) {
			return errorf(hookd.ErrConflict, "tenant "+t.ID+" already exists")
		}
		return err
	}
	writeJSON(w, http.StatusCreated, t)
	return nil
}

func (s *Server) listTenants(w http.ResponseWriter, r *http.Request) error {
	page, err := pageParams(r, 50, 250)
	if err != nil {
		return err
	}
	list, total, err := s.store.ListTenants(r.Context(), page)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": list, "total": total, "limit": page.Limit, "offset": page.Offset})
	return nil
}

func (s *Server) getTenant(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("tenantId")
	t, err := s.store.GetTenant(r.Context(), id)
	if err != nil {
		return tenantErr(id, err)
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

func (s *Server) updateTenant(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("tenantId")
	var in struct {
		Name Opt[string] `json:"name"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	t, err := s.store.GetTenant(r.Context(), id)
	if err != nil {
		return tenantErr(id, err)
	}
	v := &hookd.ValidationError{}
	if in.Name.ok(v, "name", "a string") {
		t.Name = in.Name.V
	}
	if err := v.Err(); err != nil {
		return err
	}
	if err := t.Validate(); err != nil {
		return err
	}
	if err := s.store.UpdateTenant(r.Context(), t); err != nil {
		return tenantErr(id, err)
	}
	s.tenants.invalidate(id)
	writeJSON(w, http.StatusOK, t)
	return nil
}

func (s *Server) deleteTenant(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("tenantId")
	err := s.store.DeleteTenant(r.Context(), id)
	s.tenants.invalidate(id)
	s.hooks.invalidate(id)
	if err != nil {
		return tenantErr(id, err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// Tenant API keys start with hk_ so that secret scanners and people can
// tell them apart from endpoint secrets (whsec_).
const tenantKeyPrefix = "hk_"

func (s *Server) createAPIKey(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name Opt[string] `json:"name"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	v := &hookd.ValidationError{}
	name := ""
	if in.Name.ok(v, "name", "a string") {
		name = in.Name.V
		if len(name) < 1 || len(name) > 200 {
			v.Add("name", "must be 1–200 characters")
		}
	} else if !in.Name.Set {
		v.Add("name", "is required")
	}
	if err := v.Err(); err != nil {
		return err
	}
	now := s.clock.Now()
	key := hookd.GenerateAPIKey(tenantKeyPrefix)
	k := &hookd.APIKey{ID: hookd.NewID(hookd.PrefixKey, now), TenantID: r.PathValue("tenantId"), Name: name, Hash: hookd.HashKey(key), CreatedAt: now}
	if err := s.store.CreateAPIKey(r.Context(), k); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": k.ID, "name": k.Name, "key": key, "createdAt": k.CreatedAt})
	return nil
}

func (s *Server) listAPIKeys(w http.ResponseWriter, r *http.Request) error {
	keys, err := s.store.ListAPIKeys(r.Context(), r.PathValue("tenantId"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": keys})
	return nil
}

func (s *Server) deleteAPIKey(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("keyId")
	if err := s.store.DeleteAPIKey(r.Context(), r.PathValue("tenantId"), id); err != nil {
		if isNotFound(err) {
			return errorf(hookd.ErrNotFound, "API key "+id+" not found")
		}
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
