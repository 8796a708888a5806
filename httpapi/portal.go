package httpapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/hookd/hookd"
)

// PortalPath is where a portal link points: the console redeems the token
// that follows it.
const PortalPath = hookd.PortalPath

func (s *Server) createPortalSession(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		ExpiresInSeconds Opt[int64] `json:"expiresInSeconds"`
		ReadOnly         Opt[bool]  `json:"readOnly"`
	}
	if err := decodeOptional(r, &in); err != nil {
		return err
	}
	v := &hookd.ValidationError{}
	expires := hookd.DefaultPortalExpiry
	if in.ExpiresInSeconds.given(v, "expiresInSeconds", "an integer") {
		expires = time.Duration(in.ExpiresInSeconds.V) * time.Second
		if in.ExpiresInSeconds.V < 0 || in.ExpiresInSeconds.V > int64(hookd.MaxPortalExpiry/time.Second) {
			expires = -1 // out of range, however it multiplies
		}
	}
	readOnly := false
	if in.ReadOnly.given(v, "readOnly", "a boolean") {
		readOnly = in.ReadOnly.V
	}
	if err := v.Err(); err != nil {
		return err
	}
	token, cs, err := s.svc.CreatePortalSession(r.Context(), r.PathValue("tenantId"), expires, readOnly)
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusCreated, map[string]any{"url": s.baseURL(r) + PortalPath + token, "expiresAt": cs.ExpiresAt})
	return nil
}

// baseURL is where visitors reach this hookd: Config.PublicURL, or else
// the scheme and host the request came in on.
func (s *Server) baseURL(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return strings.TrimRight(s.cfg.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
