package console

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/hookd/hookd"
)

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) error {
	return s.showLogin(w, r, http.StatusOK, "")
}

func (s *Server) showLogin(w http.ResponseWriter, r *http.Request, status int, problem string) error {
	// Sign-in has no session yet, so its CSRF token is a cookie of its own
	// that the form repeats (a cross-site form cannot read or set it).
	token, _ := hookd.NewToken()
	s.setCookie(w, r, loginCookie, token, s.clock.Now().Add(s.cfg.SessionTTL))
	s.render(w, r, nil, status, "login", "Sign in", map[string]any{"LoginCSRF": token, "Problem": problem})
	return nil
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return &pageError{http.StatusBadRequest, "The form could not be read."}
	}
	c, err := r.Cookie(loginCookie)
	if err != nil || c.Value == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostForm.Get("csrf"))) != 1 {
		return &pageError{http.StatusForbidden, "The form's security token is missing or wrong. Reload the page and try again."}
	}
	key := strings.TrimSpace(r.PostForm.Get("key"))
	if key == "" {
		return s.showLogin(w, r, http.StatusUnprocessableEntity, "Enter an API key.")
	}
	now := s.clock.Now()
	token, tokenHash := hookd.NewToken()
	cs := &hookd.ConsoleSession{ID: hookd.NewID(hookd.PrefixConsoleSession, now), TokenHash: tokenHash,
		ExpiresAt: now.Add(s.cfg.SessionTTL), CreatedAt: now}
	hash := hookd.HashKey(key)
	if len(s.cfg.AdminKeyHash) == 0 || subtle.ConstantTimeCompare(hash, s.cfg.AdminKeyHash) != 1 {
		k, err := s.store.APIKeyByHash(r.Context(), hash)
		if errors.Is(err, hookd.ErrNotFound) {
			// Logged for the operator's own limiter (a proxy's, fail2ban's).
			// hookd locks no address out: behind a proxy every user shares
			// one, and anyone could lock everyone out with ten guesses.
			s.log.WarnContext(r.Context(), "console sign-in failed", "addr", clientAddr(r))
			return s.showLogin(w, r, http.StatusUnauthorized, "That key is not known to hookd.")
		}
		if err != nil {
			return err
		}
		cs.TenantID, cs.KeyID = k.TenantID, k.ID
	} else {
		token = s.operatorCookie(token)
		cs.TokenHash = hookd.HashKey(token)
	}
	if err := s.store.CreateConsoleSession(r.Context(), cs); err != nil {
		return err
	}
	s.setCookie(w, r, loginCookie, "", now)
	s.setCookie(w, r, SessionCookie, token, cs.ExpiresAt)
	http.Redirect(w, r, "/console", http.StatusSeeOther)
	return nil
}

// redeem signs the visitor in with a portal link, once.
func (s *Server) redeem(w http.ResponseWriter, r *http.Request) error {
	if r.Method == http.MethodHead {
		// Link checkers and previews send HEAD: it signs nobody in and
		// leaves the one-time link for the person it was made for.
		w.WriteHeader(http.StatusOK)
		return nil
	}
	token, tokenHash := hookd.NewToken()
	cs, err := s.store.RedeemPortalLink(r.Context(), hookd.HashKey(r.PathValue("token")), tokenHash, s.clock.Now())
	if errors.Is(err, hookd.ErrNotFound) {
		return &pageError{http.StatusNotFound, "This sign-in link has been used already or has expired. Ask for a new one where you found it."}
	}
	if err != nil {
		return err
	}
	s.setCookie(w, r, SessionCookie, token, cs.ExpiresAt)
	http.Redirect(w, r, "/console", http.StatusSeeOther)
	return nil
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, v *visit) error {
	if err := s.store.DeleteConsoleSession(r.Context(), v.session.ID); err != nil && !errors.Is(err, hookd.ErrNotFound) {
		return err
	}
	s.setCookie(w, r, SessionCookie, "", s.clock.Now())
	s.setCookie(w, r, tenantCookie, "", s.clock.Now())
	http.Redirect(w, r, "/console/login", http.StatusSeeOther)
	return nil
}

func (s *Server) tenantsPage(w http.ResponseWriter, r *http.Request, v *visit) error {
	if !v.operator {
		http.Redirect(w, r, "/console/webhooks", http.StatusSeeOther)
		return nil
	}
	page := pageOf(r, 50)
	list, total, err := s.store.ListTenants(r.Context(), hookd.TenantQuery{Page: page})
	if err != nil {
		return err
	}
	s.render(w, r, v, http.StatusOK, "tenants", "Tenants", map[string]any{"Tenants": list, "Pager": pager(r, page, total, len(list))})
	return nil
}

func (s *Server) switchTenant(w http.ResponseWriter, r *http.Request, v *visit) error {
	if !v.operator {
		return &pageError{http.StatusForbidden, "Only the operator's session can switch tenants."}
	}
	id := r.PostForm.Get("tenant")
	if _, err := s.store.GetTenant(r.Context(), id); err != nil {
		if errors.Is(err, hookd.ErrNotFound) {
			return notFound("There is no tenant " + id + ".")
		}
		return err
	}
	s.setCookie(w, r, tenantCookie, id, v.session.ExpiresAt)
	http.Redirect(w, r, "/console/webhooks", http.StatusSeeOther)
	return nil
}

// operatorCookie is the operator's session cookie for token: token and a
// MAC of it under the admin key's hash, so that a session signed in with
// an admin key ends when the operator replaces the key (say, after it
// leaked), as a tenant key's sessions end when it is revoked. The store
// knows the session by the hash of the whole cookie, as any other.
func (s *Server) operatorCookie(token string) string {
	m := hmac.New(sha256.New, s.cfg.AdminKeyHash)
	m.Write([]byte("hookd console operator\x00" + token))
	return token + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// operatorCookieValid reports whether an operator session's cookie was made
// under the admin key this process has.
func (s *Server) operatorCookieValid(cookie string) bool {
	i := strings.LastIndexByte(cookie, '.')
	return i > 0 && len(s.cfg.AdminKeyHash) > 0 && subtle.ConstantTimeCompare([]byte(s.operatorCookie(cookie[:i])), []byte(cookie)) == 1
}

// clientAddr is the address a request came from, without its port.
func clientAddr(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}
