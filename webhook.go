package hookd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hookd/hookd/netguard"
)

// Webhook is a tenant's endpoint and its subscription.
type Webhook struct {
	ID       string
	TenantID string
	Name     string
	URL      string
	Events   []string          // names, "*" or "prefix.*"
	Headers  map[string]string // extra request headers
	Timeout  time.Duration
	Enabled  bool
	// DisabledReason says why a disabled webhook is (DisabledManual,
	// DisabledGone, DisabledFailing), and DisabledAt since when; "" and
	// zero while enabled.
	DisabledReason  string
	DisabledAt      time.Time
	SSLVerification bool
	Channels        []string // nil: every event; else only events carrying one of them
	Filter          string   // CEL; "" means none
	MaxAttempts     int
	RateLimit       int // requests per second; 0 means unlimited
	Description     string
	Metadata        map[string]string
	Signature       *Signature // nil means standard
	// BodyMode is what a request's body is: BodyEnvelope ("", the
	// default) the event's envelope {id, type, timestamp, data,
	// metadata?}, or BodyRaw its data alone, as Svix sends a message's
	// payload.
	BodyMode string
	// UID is the caller's own name for the webhook, unique in its tenant
	// ("" for none): Svix's endpoint uid, which its API takes in place of
	// the id.
	UID string

	// Secret is the signing secret in clear ("" = unsigned). Stores seal it
	// with a SecretBox on the way in.
	Secret string
	// PreviousSecrets are the secrets rotated out whose grace has not
	// ended, newest first: each signs beside Secret until its ExpiresAt.
	// (Expired ones may linger until the next rotation; they never sign.)
	PreviousSecrets []OldSecret
	// SecretUnreadable says why the stored signing secret could not be
	// opened ("" when it could): a damaged value, or one sealed with a key
	// this process does not have. Secret is then "" and such a webhook
	// signs nothing: its attempts fail unsent and its secret cannot be
	// shown, until a rotation gives it a new one. Sealed holds what is
	// stored meanwhile, which writes that do not rotate keep as it is. One
	// unreadable webhook used to fail its tenant's every publish, since
	// matching reads them all. (A previous secret that cannot be opened
	// is left out of PreviousSecrets: it could not sign either.)
	SecretUnreadable string
	Sealed           *SealedSecrets

	CreatedAt time.Time
	UpdatedAt time.Time

	// Health is kept by the store with the attempts it counts; writes of
	// the webhook leave it alone (but re-enabling starts it afresh).
	Health Health
}

// Defaults and bounds of the contract.
const (
	DefaultTimeout = 30 * time.Second
	MinTimeout     = time.Second
	MaxTimeout     = 60 * time.Second
	MaxMaxAttempts = 20
)

// SealedSecrets are a webhook's secrets as a store holds them, sealed by
// a SecretBox: the current one, the newest previous one and its end, and
// the older ones.
type SealedSecrets struct {
	Secret, Previous  string
	PreviousExpiresAt time.Time
	Older             string
}

// ShownSecret is the signing secret to show its owner, or why it cannot
// be (a 409 that says how to give the webhook a new one).
func (w *Webhook) ShownSecret() (string, error) {
	if w.SecretUnreadable != "" {
		return "", Errorf(ErrConflict, "the signing secret cannot be read with hookd's encryption key (%s): rotate it to give the webhook a new one; until then its deliveries fail unsent", w.SecretUnreadable)
	}
	return w.Secret, nil
}

// An OldSecret is a secret rotated out, which signs beside the current one
// until ExpiresAt.
type OldSecret struct {
	Secret    string    `json:"secret"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// MaxOldSecrets is how many rotated-out secrets may sign at once, as in
// Svix: a rotation past it in their grace is refused (dropping the oldest
// would fail, unseen, a receiver that still has it).
const MaxOldSecrets = 5

// SigningSecrets returns the secrets that sign a request at now: the
// current one, and each previous one while its grace lasts and its format
// fits the webhook's scheme (a stripe secret kept from before a change to
// standard cannot sign there, and must not stop the current one signing).
func (w *Webhook) SigningSecrets(now time.Time) []string {
	if w.Secret == "" {
		return nil
	}
	out := []string{w.Secret}
	for _, o := range w.LiveOldSecrets(now) {
		if ValidateSecret(w.Signature.SchemeName(), o.Secret) == nil {
			out = append(out, o.Secret)
		}
	}
	return out
}

// LiveOldSecrets are the previous secrets whose grace lasts past now,
// newest first.
func (w *Webhook) LiveOldSecrets(now time.Time) []OldSecret {
	var live []OldSecret
	for _, o := range w.PreviousSecrets {
		if o.Secret != "" && now.Before(o.ExpiresAt) {
			live = append(live, o)
		}
	}
	return live
}

// WebhookRules is what validating a webhook needs beyond the webhook.
type WebhookRules struct {
	Guard     *netguard.Policy
	HTTPSOnly bool
	// Catalog checks Events against the event types; nil skips that check
	// (a PATCH that leaves events alone keeps archived types).
	Catalog []*EventType
	// Kept are the entries the webhook listed before this change: they
	// stay, a type archived since included, so that a client writing back
	// the list it read (adding one type) is not refused for the old ones.
	Kept []string
	// KeptHeaders are the webhook's headers before this change: a header
	// its scheme sets, already there under the same scheme (KeptSignature's),
	// is left alone (one stored before hookd refused them must not lock the
	// webhook's edits).
	KeptHeaders map[string]string
	// KeptSignature is the webhook's signature before this change (nil on
	// a create): left as it is (the same scheme and parameters), it is not
	// checked again, so that one stored before a rule refused it does not
	// lock the webhook.
	KeptSignature *Signature
	// KeptURL is the webhook's URL before this change: left as it is, it
	// is not checked again, so that a URL the SSRF guard refuses since the
	// operator narrowed --allow-networks (the sender refuses it at each
	// connect) does not stop the user disabling or editing the webhook.
	KeptURL string
	// KeptName is the name stored before this change: one stored before
	// blank names were refused stays editable.
	KeptName string
}

// Validate checks every field and returns a *ValidationError listing each
// problem.
func (w *Webhook) Validate(r WebhookRules) error {
	v := &ValidationError{}
	validateName(v, "name", w.Name, r.KeptName)
	validateURL(v, w.URL, r)
	if r.Catalog != nil {
		ValidatePatterns(v, w.Events, r.Catalog, r.Kept)
	} else if len(w.Events) == 0 {
		v.Add("events", "must list at least one event type")
	}
	// In name order, so that of two names one header (X-A, x-a) the same
	// one is named every time.
	names := slices.Sorted(maps.Keys(w.Headers))
	given := map[string]string{} // lower case → as given
	keptAsIs := func(name string) bool {
		old, had := r.KeptHeaders[name]
		return had && old == w.Headers[name]
	}
	for _, name := range names {
		value := w.Headers[name]
		unchanged := keptAsIs(name) // stored before a rule below refused it
		other, twice := given[strings.ToLower(name)]
		given[strings.ToLower(name)] = name
		switch {
		case !validHeaderName(name):
			v.Add("headers."+name, "is not a valid header name")
		case hopByHopHeader(name):
			v.Add("headers."+name, "is a hop-by-hop header, which belongs to one connection and breaks HTTP/2 requests")
		case reservedHeader(name):
			v.Add("headers."+name, "is reserved by hookd")
		case slices.ContainsFunc(w.Signature.Headers(), func(h string) bool { return strings.EqualFold(h, name) }) &&
			!(r.KeptSignature.SchemeName() == w.Signature.SchemeName() && r.KeptHeaders[name] == value && value != ""):
			v.Add("headers."+name, "is set by the %s signature scheme", w.Signature.SchemeName())
		case strings.ContainsAny(value, "\r\n\x00") || len(value) > 4096:
			v.Add("headers."+name, "must be at most 4096 characters without line breaks")
		case twice && !(unchanged && keptAsIs(other)):
			// One header: the receiver would get one of the two values.
			// (Both stored so before this rule: left alone.)
			v.Add("headers."+name, "is given twice: header names are case-insensitive, and %s is the same header", other)
		case unchanged:
		case strings.ContainsFunc(value, func(c rune) bool { return c < 0x20 && c != '\t' || c == 0x7f }):
			// No HTTP request can carry it: every attempt would fail.
			v.Add("headers."+name, "must not contain control characters (a tab aside)")
		default:
			CheckText(v, "headers."+name, value)
		}
	}
	if len(w.Headers) > 50 {
		v.Add("headers", "must have at most 50 entries")
	}
	if w.Timeout < MinTimeout || w.Timeout > MaxTimeout {
		v.Add("timeoutMs", "must be 1000–60000")
	}
	for i, c := range w.Channels {
		ValidateChannel(v, "channels["+itoa(i)+"]", c)
	}
	if len(w.Channels) > 100 {
		v.Add("channels", "must have at most 100 entries")
	}
	if w.Filter != "" && CheckText(v, "filter", w.Filter) {
		if _, err := CompileFilter(w.Filter); err != nil {
			v.Add("filter", "%v", err)
		}
	}
	if w.MaxAttempts < 1 || w.MaxAttempts > MaxMaxAttempts {
		v.Add("maxAttempts", "must be 1–20")
	}
	if w.RateLimit < 0 || w.RateLimit > 100_000 {
		v.Add("rateLimit", "must be 1–100000 requests per second, or null for unlimited")
	}
	if utf8.RuneCountInString(w.Description) > 1000 {
		v.Add("description", "must be at most 1000 characters")
	} else {
		CheckText(v, "description", w.Description)
	}
	validateMetadata(v, w.Metadata)
	if s, k := w.Signature, r.KeptSignature; s != nil && k != nil && s.Scheme == SchemeHMACSHA256 && k.Scheme == SchemeHMACSHA256 && s.Encoding == "" {
		// An edit that leaves the encoding out keeps it (else it would turn
		// to the default, hex, behind the receiver's back).
		s.Encoding = k.Encoding
	}
	if r.KeptSignature == nil || w.Signature == nil || *w.Signature != *r.KeptSignature {
		w.Signature.validate(v)
	}
	if w.UID != "" && !ValidExternalID(w.UID) {
		v.Add("uid", ExternalIDRule)
	}
	if w.BodyMode != "" && w.BodyMode != BodyEnvelope && w.BodyMode != BodyRaw {
		v.Add("bodyMode", "must be envelope or raw")
	}
	if err := ValidateSecret(w.Signature.SchemeName(), w.Secret); err != nil {
		v.Add("secret", "%v", err)
	}
	return v.Err()
}

func validateURL(v *ValidationError, raw string, r WebhookRules) {
	if raw == "" {
		v.Add("url", "is required")
		return
	}
	if raw == r.KeptURL {
		return
	}
	if len(raw) > 2048 {
		v.Add("url", "must be at most 2048 characters")
		return
	}
	// Go's URL parser takes a space in a path or query, and the request
	// line would carry it as it is: a request no receiver can read.
	if strings.ContainsAny(raw, " \t") {
		v.Add("url", "must not contain spaces: percent-encode them (%%20)")
		return
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		v.Add("url", "must be an absolute http:// or https:// URL")
		return
	}
	switch u.Scheme {
	case "https":
	case "http":
		if r.HTTPSOnly {
			v.Add("url", "must use https:// (this instance refuses http:// URLs)")
			return
		}
	default:
		v.Add("url", "must be an absolute http:// or https:// URL")
		return
	}
	if u.User != nil {
		v.Add("url", "must not contain credentials")
		return
	}
	if u.Hostname() == "" {
		v.Add("url", "must name a host")
		return
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			v.Add("url", "port %s is not a port: ports are 1–65535", p)
			return
		}
	}
	if err := r.Guard.CheckHost(u.Hostname()); err != nil {
		v.Add("url", "%v; hookd's operator can let a network through with --allow-networks (HOOKD_ALLOW_NETWORKS)", err)
		return
	}
	if a, odd := netguard.OddAddress(u.Hostname()); odd {
		v.Add("url", "%s is the address %s written in a form hookd cannot connect to: write it as %s", u.Hostname(), a, a)
	}
}

func validHeaderName(name string) bool {
	if name == "" || len(name) > 256 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		// RFC 9110 token characters
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// hopByHopHeader reports whether name describes one connection rather
// than the request (RFC 9110 section 7.6.1): a sender may not forward it,
// and HTTP/2 forbids it, so a request carrying it fails there.
func hopByHopHeader(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade":
		return true
	}
	return strings.HasPrefix(n, "proxy-")
}

// ValidateChannel checks one channel name of a webhook or an event.
func ValidateChannel(v *ValidationError, field, c string) {
	if c == "" || len(c) > 128 {
		v.Add(field, "must be 1–128 characters")
		return
	}
	CheckText(v, field, c)
}

// reservedHeader reports whether hookd sets this header itself.
func reservedHeader(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "host", "content-type", "content-length", "user-agent":
		return true
	}
	return strings.HasPrefix(n, "webhook-") || strings.HasPrefix(n, "hookd-") || hopByHopHeader(n)
}

// MarshalJSON renders the webhook as the API shows it: never with a secret.
func (w *Webhook) MarshalJSON() ([]byte, error) {
	type out struct {
		ID              string            `json:"id"`
		Name            string            `json:"name"`
		URL             string            `json:"url"`
		Events          []string          `json:"events"`
		Headers         map[string]string `json:"headers"`
		TimeoutMs       int64             `json:"timeoutMs"`
		Enabled         bool              `json:"enabled"`
		DisabledReason  *string           `json:"disabledReason"`
		DisabledAt      *time.Time        `json:"disabledAt"`
		Health          Health            `json:"health"`
		SSLVerification bool              `json:"sslVerification"`
		Channels        []string          `json:"channels"`
		Filter          *string           `json:"filter"`
		MaxAttempts     int               `json:"maxAttempts"`
		RateLimit       *int              `json:"rateLimit"`
		Description     string            `json:"description"`
		Metadata        map[string]string `json:"metadata"`
		Signature       Signature         `json:"signature"`
		BodyMode        string            `json:"bodyMode"`
		CreatedAt       time.Time         `json:"createdAt"`
		UpdatedAt       time.Time         `json:"updatedAt"`
	}
	o := out{
		ID: w.ID, Name: w.Name, URL: w.URL, Events: w.Events, Headers: w.Headers,
		TimeoutMs: w.Timeout.Milliseconds(), Enabled: w.Enabled, SSLVerification: w.SSLVerification,
		Channels: w.Channels, MaxAttempts: w.MaxAttempts, Description: w.Description,
		Metadata: w.Metadata, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt,
		Signature: Signature{Scheme: SchemeStandard}, Health: w.Health, DisabledAt: timeOrNil(w.DisabledAt),
		BodyMode: w.BodyModeName(),
	}
	if w.DisabledReason != "" {
		o.DisabledReason = &w.DisabledReason
	}
	if o.Events == nil {
		o.Events = []string{}
	}
	if o.Headers == nil {
		o.Headers = map[string]string{}
	}
	if o.Metadata == nil {
		o.Metadata = map[string]string{}
	}
	if w.Filter != "" {
		o.Filter = &w.Filter
	}
	if w.RateLimit > 0 {
		o.RateLimit = &w.RateLimit
	}
	if w.Signature != nil {
		o.Signature = *w.Signature
	}
	return json.Marshal(o)
}

// Matches reports whether ev goes to w: w is enabled, subscribes to its
// type, shares a channel with it when w names channels, and its filter (if
// any) is true. in is built lazily by the caller, once per event. A filter
// that fails on the event (a field it lacks, a division by zero) is no
// match.
func (w *Webhook) Matches(ev *Event, in func() *FilterInput) bool {
	ok, _ := w.Match(ev, in)
	return ok
}

// Match is Matches, with the error of a filter that failed on the event.
func (w *Webhook) Match(ev *Event, in func() *FilterInput) (bool, error) {
	if !w.Enabled {
		return false, nil
	}
	subscribed := false
	for _, p := range w.Events {
		if PatternMatches(p, ev.Type) {
			subscribed = true
			break
		}
	}
	if !subscribed {
		return false, nil
	}
	if w.Channels != nil {
		shared := false
		for _, c := range w.Channels {
			for _, ec := range ev.Channels {
				if c == ec {
					shared = true
				}
			}
		}
		if !shared {
			return false, nil
		}
	}
	if w.Filter == "" {
		return true, nil
	}
	f, err := CompileFilter(w.Filter)
	if err != nil {
		return false, err
	}
	ok, err := f.Match(in())
	return err == nil && ok, err
}

// MaxGrace bounds a rotation's grace: long enough for any receiver's
// deploy, short enough that an old secret does not linger.
const MaxGrace = 30 * 24 * time.Hour

// Rotate makes secret the signing secret. For grace after now the old one
// signs too, so receivers can switch without dropping requests, and the
// ones rotated out before it sign on until their own grace ends (a second
// rotation does not cut a receiver still on the first secret off). No
// grace ends them all: the new secret alone signs (a leaked secret's
// rotation). The caller checks MaxOldSecrets (RotateRoom).
func (w *Webhook) Rotate(secret string, grace time.Duration, now time.Time) {
	w.forgetUnreadable()
	old := w.Secret
	var kept []OldSecret
	if grace > 0 {
		if old != "" && old != secret {
			kept = append(kept, OldSecret{Secret: old, ExpiresAt: now.Add(grace)})
		}
		for _, o := range w.LiveOldSecrets(now) {
			if o.Secret != secret && o.Secret != old {
				kept = append(kept, o)
			}
		}
	}
	w.PreviousSecrets, w.Secret = kept, secret
}

// forgetUnreadable drops an unreadable secret, for a new one to replace
// it: nothing it sealed can sign, so nothing of it is kept signing.
func (w *Webhook) forgetUnreadable() {
	if w.SecretUnreadable != "" {
		w.SecretUnreadable, w.Sealed, w.Secret, w.PreviousSecrets = "", nil, "", nil
	}
}

// RotateRoom says why a rotation with grace at now cannot keep the secret
// it rotates out signing: MaxOldSecrets sign already. nil when it can.
func (w *Webhook) RotateRoom(grace time.Duration, now time.Time) error {
	live := w.LiveOldSecrets(now)
	if grace <= 0 || len(live) < MaxOldSecrets {
		return nil
	}
	first := live[0].ExpiresAt
	for _, o := range live {
		if o.ExpiresAt.Before(first) {
			first = o.ExpiresAt
		}
	}
	return Invalid("graceSeconds", "%d secrets rotated out earlier still sign (the first stops at %s): rotate without a grace (0), which ends them all, or after that",
		len(live), first.UTC().Format(time.RFC3339))
}

// Touch marks a change at now. UpdatedAt is the webhook's version (an edit
// is written only over the version it read), so it always moves forward,
// even for two changes within one microsecond.
func (w *Webhook) Touch(now time.Time) {
	now = Truncate(now)
	if !now.After(w.UpdatedAt) {
		now = w.UpdatedAt.Add(time.Microsecond)
	}
	w.UpdatedAt = now
}

// FitSecret gives the webhook a fresh secret when its scheme changed from
// oldScheme to one whose secret format the old secret does not fit (say
// standard → standard-ed25519): the old one could not sign in the new
// scheme anyway. Previous secrets in their grace that do not fit the new
// scheme end there, for the same reason.
func (w *Webhook) FitSecret(oldScheme string) {
	scheme := w.Signature.SchemeName()
	if scheme == oldScheme {
		return
	}
	if ValidateSecret(scheme, w.Secret) != nil {
		w.forgetUnreadable()
		w.Secret = GenerateSecret(scheme)
		w.PreviousSecrets = nil
	}
	w.PreviousSecrets = slices.DeleteFunc(slices.Clone(w.PreviousSecrets), func(o OldSecret) bool {
		return ValidateSecret(scheme, o.Secret) != nil
	})
	if len(w.PreviousSecrets) == 0 {
		w.PreviousSecrets = nil
	}
}

// fingerprint is every field of w, secrets included, as one string: what
// tells an edit that changed nothing.
func (w *Webhook) fingerprint() string {
	type fields Webhook // every exported field, without the API's rendering
	b, _ := json.Marshal((*fields)(w))
	return string(b)
}

// EditWebhook is the one way a webhook is changed after it is made: it
// reads the webhook, lets edit change it, and writes it over the version it
// read. When another change was written in between, it reads the new
// version and edits that instead, so concurrent edits never undo each
// other. edit may return an error (a 409 for a stale updatedAt the caller
// named, a 422) to write nothing. ended is how many waiting deliveries a
// disable ended FAILED. Each version lost to another writer means that
// writer's edit landed, so tries go on (with a short random pause that
// grows, so that a crowd of editors spreads out) until the caller's
// context ends, or for a thousand tries (a minute at most); before, eight tries without a pause made a few dozen
// concurrent PATCHes without updatedAt fail 409.
func EditWebhook(ctx context.Context, s Store, clock Clock, tenantID, id string, edit func(*Webhook) error) (w *Webhook, ended int, err error) {
	for try := 0; ; try++ {
		if try > 0 {
			pause := time.Duration(rand.Int64N(int64(min(time.Duration(try)*time.Millisecond, 50*time.Millisecond))))
			select {
			case <-ctx.Done():
				return nil, 0, fmt.Errorf("edit webhook: %w", ctx.Err())
			case <-time.After(pause):
			}
		}
		w, err = s.GetWebhook(ctx, tenantID, id)
		if err != nil {
			return nil, 0, err
		}
		read := w.UpdatedAt
		before := w.fingerprint()
		if err := edit(w); err != nil {
			return nil, 0, err
		}
		if w.fingerprint() == before {
			// Nothing changed: no write, and updatedAt stays, so that a
			// no-op does not make another client's updatedAt stale.
			return w, 0, nil
		}
		w.Touch(clock.Now())
		ended, err = s.UpdateWebhook(ctx, w, read)
		if errors.Is(err, ErrStale) && try < 1000 {
			continue
		}
		if err != nil {
			return nil, 0, err
		}
		return w, ended, nil
	}
}

// Body modes (Webhook.BodyMode).
const (
	BodyEnvelope = "envelope"
	BodyRaw      = "raw"
)

// BodyModeName is the body mode, envelope when unset.
func (w *Webhook) BodyModeName() string {
	if w.BodyMode == BodyRaw {
		return BodyRaw
	}
	return BodyEnvelope
}

// Body is what a request to w carries for an event whose stored payload
// (its envelope) is payload: the envelope, or in raw mode its data alone,
// byte for byte as stored.
func (w *Webhook) Body(payload []byte) []byte {
	if w.BodyMode != BodyRaw {
		return payload
	}
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if json.Unmarshal(payload, &env) != nil || env.Data == nil {
		return payload
	}
	return env.Data
}

// validateMetadata checks a webhook's or a tenant's metadata: at most 50
// entries of clean text, keys of 1 to 128 characters and values up to 1024.
func validateMetadata(v *ValidationError, m map[string]string) {
	if len(m) > 50 {
		v.Add("metadata", "must have at most 50 entries")
	}
	for k, val := range m {
		if k == "" {
			v.Add("metadata", "keys must not be empty")
		} else if len(k) > 128 || len(val) > 1024 {
			v.Add("metadata."+k, "keys must be at most 128 and values 1024 characters")
		} else if CheckText(v, "metadata", k) {
			CheckText(v, "metadata."+k, val)
		}
	}
}
