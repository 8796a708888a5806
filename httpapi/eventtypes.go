package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/hookd/hookd"
)

type eventTypeInput struct {
	Name        Opt[string]            `json:"name"`
	Description Opt[string]            `json:"description"`
	Schema      Opt[json.RawMessage]   `json:"schema"`
	Archived    Opt[bool]              `json:"archived"`
	Examples    Opt[[]json.RawMessage] `json:"examples"`
}

func eventTypeErr(name string, err error) error {
	if isNotFound(err) {
		return errorf(hookd.ErrNotFound, "event type "+name+" not found")
	}
	return err
}

// apply copies the set fields of in onto et.
func (in *eventTypeInput) apply(v *hookd.ValidationError, et *hookd.EventType) {
	if in.Description.ok(v, "description", "a string") {
		et.Description = in.Description.V
	}
	if in.Schema.Set {
		if in.Schema.Null {
			et.Schema = nil
		} else {
			et.Schema = in.Schema.V
		}
	}
	if in.Archived.ok(v, "archived", "a boolean") {
		et.Archived = in.Archived.V
	}
	if in.Examples.okOrNull(v, "examples", "a list of JSON objects") {
		et.Examples = in.Examples.V
		if et.Examples == nil {
			et.Examples = []json.RawMessage{}
		}
	}
}

func (s *Server) createEventType(w http.ResponseWriter, r *http.Request) error {
	var in eventTypeInput
	if err := decode(r, &in); err != nil {
		return err
	}
	et := &hookd.EventType{}
	v := &hookd.ValidationError{}
	if in.Name.ok(v, "name", "a string") {
		et.Name = in.Name.V
	} else if !in.Name.Set {
		v.Add("name", "is required")
	}
	if !in.Description.Set {
		v.Add("description", "is required")
	}
	in.apply(v, et)
	if err := s.svc.CreateEventType(r.Context(), et, hookd.NativeNames, v); err != nil {
		return err
	}
	s.writeJSON(w, http.StatusCreated, et)
	return nil
}

func (s *Server) listEventTypes(w http.ResponseWriter, r *http.Request) error {
	list, err := s.store.ListEventTypes(r.Context())
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"data": list})
	return nil
}

func (s *Server) getEventType(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	et, err := s.store.GetEventType(r.Context(), name)
	if err != nil {
		return eventTypeErr(name, err)
	}
	s.writeJSON(w, http.StatusOK, et)
	return nil
}

func (s *Server) updateEventType(w http.ResponseWriter, r *http.Request) error {
	var in eventTypeInput
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.Name.Set {
		return hookd.BadRequest("an event type cannot be renamed")
	}
	et, err := s.svc.UpdateEventType(r.Context(), r.PathValue("name"), func(et *hookd.EventType, v *hookd.ValidationError) { in.apply(v, et) })
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusOK, et)
	return nil
}

// archiveEventType is DELETE: the type is kept, marked archived, so that
// webhooks subscribed to it and its past events stay readable.
func (s *Server) archiveEventType(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.ArchiveEventType(r.Context(), r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
