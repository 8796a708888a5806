package console

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hookd/hookd"
)

// webhookRow is a line of the webhooks list.
type webhookRow struct {
	Webhook *hookd.Webhook
	Stats   *hookd.Stats // the last 24 hours
	Last    *hookd.Delivery
}

func (s *Server) webhooksPage(w http.ResponseWriter, r *http.Request, v *visit) error {
	p := pageOf(r, 25)
	list, total, err := s.store.ListWebhooks(r.Context(), hookd.WebhookQuery{TenantID: v.tenant.ID, Page: p})
	if err != nil {
		return err
	}
	since := s.clock.Now().Add(-24 * time.Hour)
	rows := make([]webhookRow, len(list))
	for i, wh := range list {
		st, err := s.store.Stats(r.Context(), hookd.StatsQuery{TenantID: v.tenant.ID, WebhookID: wh.ID, Since: since})
		if err != nil {
			return err
		}
		last, _, err := s.store.ListDeliveries(r.Context(), hookd.DeliveryQuery{TenantID: v.tenant.ID, WebhookID: wh.ID, Limit: 1})
		if err != nil {
			return err
		}
		rows[i] = webhookRow{Webhook: wh, Stats: st}
		if len(last) > 0 {
			rows[i].Last = last[0]
		}
	}
	s.render(w, r, v, http.StatusOK, "webhooks", "Webhooks", map[string]any{"Rows": rows, "Pager": pager(r, p, total, len(list))})
	return nil
}

// kv is a row of the form's headers or metadata.
type kv struct{ Key, Value string }

// webhookForm holds the form's fields as typed, so that a form with a
// mistake comes back as the visitor left it.
type webhookForm struct {
	Name, URL, Description, Filter, Channels  string
	TimeoutMs, MaxAttempts, RateLimit, Secret string
	Events                                    []string
	Headers, Metadata                         []kv
	Enabled, SSLVerification, Unsigned        bool
	Sig                                       hookd.Signature
	Sample                                    string
	// Version and Original are the version the form edits and the values
	// it first showed (originalOf), as posted: a form shown again (a
	// filter's test, a mistake) keeps them, so a change made meanwhile by
	// someone else still answers 409. Not part of the merge.
	Version, Original string `json:"-"`
}

func formOf(wh *hookd.Webhook) *webhookForm {
	f := &webhookForm{Name: wh.Name, URL: wh.URL, Description: wh.Description, Filter: wh.Filter,
		Channels: strings.Join(wh.Channels, ", "), TimeoutMs: strconv.FormatInt(wh.Timeout.Milliseconds(), 10),
		MaxAttempts: strconv.Itoa(wh.MaxAttempts), Events: wh.Events, Enabled: wh.Enabled, SSLVerification: wh.SSLVerification}
	if wh.RateLimit > 0 {
		f.RateLimit = strconv.Itoa(wh.RateLimit)
	}
	f.Headers, f.Metadata = rowsOf(wh.Headers), rowsOf(wh.Metadata)
	if wh.Signature != nil {
		f.Sig = *wh.Signature
	}
	f.Sig.Scheme = wh.Signature.SchemeName()
	return f
}

func rowsOf(m map[string]string) []kv {
	out := make([]kv, 0, len(m))
	for k, v := range m {
		out = append(out, kv{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

func parseForm(form url.Values) *webhookForm {
	f := &webhookForm{Name: form.Get("name"), URL: strings.TrimSpace(form.Get("url")), Description: form.Get("description"),
		Filter: strings.TrimSpace(form.Get("filter")), Channels: form.Get("channels"), TimeoutMs: strings.TrimSpace(form.Get("timeoutMs")),
		MaxAttempts: strings.TrimSpace(form.Get("maxAttempts")), RateLimit: strings.TrimSpace(form.Get("rateLimit")),
		Secret: strings.TrimSpace(form.Get("secret")), Events: form["events"], Enabled: form.Get("enabled") != "",
		SSLVerification: form.Get("sslVerification") != "", Unsigned: form.Get("unsigned") != "", Sample: form.Get("sample"),
		Sig: hookd.Signature{Scheme: form.Get("scheme"), Header: form.Get("sigHeader"), Content: form.Get("sigContent"),
			Encoding: form.Get("sigEncoding"), Prefix: form.Get("sigPrefix"), TimestampHeader: form.Get("sigTimestampHeader"),
			EventHeader: form.Get("sigEventHeader")},
		Version: form.Get("version"), Original: form.Get("original")}
	f.Headers = pairs(form["headerName"], form["headerValue"])
	f.Metadata = pairs(form["metaKey"], form["metaValue"])
	return f
}

func pairs(keys, values []string) []kv {
	var out []kv
	for i, k := range keys {
		val := ""
		if i < len(values) {
			val = values[i]
		}
		if strings.TrimSpace(k) == "" && val == "" {
			continue // a blank row
		}
		out = append(out, kv{strings.TrimSpace(k), val})
	}
	return out
}

// apply sets wh's fields from the form; typing problems go to v, the
// rules of the values are wh.Validate's, as in the API.
func (f *webhookForm) apply(v *hookd.ValidationError, wh *hookd.Webhook) {
	wh.Name, wh.URL, wh.Description, wh.Filter = f.Name, f.URL, f.Description, f.Filter
	wh.Events = f.Events
	wh.Enabled, wh.SSLVerification = f.Enabled, f.SSLVerification
	wh.Channels = nil
	for _, c := range strings.FieldsFunc(f.Channels, func(r rune) bool { return r == ',' || r == '\n' }) {
		if c = strings.TrimSpace(c); c != "" {
			wh.Channels = append(wh.Channels, c)
		}
	}
	number := func(field, raw string, set func(int)) {
		if raw == "" {
			return // left blank: the default on a create, unchanged on an edit (as the API's absent field)
		}
		n, err := strconv.Atoi(raw)
		if err != nil {
			v.Add(field, "must be a whole number")
			return
		}
		set(n)
	}
	number("timeoutMs", f.TimeoutMs, func(n int) {
		wh.Timeout = time.Duration(n) * time.Millisecond
		if n < 1000 || n > 60000 {
			wh.Timeout = -1
		}
	})
	number("maxAttempts", f.MaxAttempts, func(n int) { wh.MaxAttempts = n })
	wh.RateLimit = 0
	if f.RateLimit != "" {
		number("rateLimit", f.RateLimit, func(n int) {
			wh.RateLimit = n
			if n < 1 {
				v.Add("rateLimit", "must be 1–100000 requests per second, or empty for unlimited")
			}
		})
	}
	wh.Headers, wh.Metadata = mapOf(v, "headers", f.Headers), mapOf(v, "metadata", f.Metadata)
	wh.Signature = nil
	if f.Sig.Scheme != "" && f.Sig.Scheme != hookd.SchemeStandard {
		sig := f.Sig
		if sig.Scheme != hookd.SchemeHMACSHA256 {
			sig = hookd.Signature{Scheme: sig.Scheme} // the template fields belong to hmac-sha256 only
		}
		wh.Signature = &sig
	}
}

func mapOf(v *hookd.ValidationError, field string, rows []kv) map[string]string {
	if len(rows) == 0 {
		return nil
	}
	m := map[string]string{}
	for _, r := range rows {
		_, twice := m[r.Key]
		switch {
		case r.Key == "":
			v.Add(field, "every row with a value needs a name")
		case twice:
			v.Add(field+"."+r.Key, "is given twice")
		default:
			m[r.Key] = r.Value
		}
	}
	return m
}

// eventOption is a choice of the events field.
type eventOption struct {
	Value, Description string
	Archived           bool
}

// eventOptions lists what a webhook may subscribe to: everything, each
// prefix wildcard that matches a live type, then each type, plus whatever
// the webhook already has (an archived type it keeps).
func eventOptions(catalog []*hookd.EventType, selected []string) []eventOption {
	out := []eventOption{{Value: "*", Description: "Every event type, including those added later, but hookd's own operational events (choose hookd.* for those)."}}
	prefixes := map[string]bool{}
	var types []eventOption
	for _, et := range catalog {
		if et.Archived {
			continue
		}
		parts := strings.Split(et.Name, ".")
		for i := 1; i < len(parts); i++ {
			prefixes[strings.Join(parts[:i], ".")] = true
		}
		types = append(types, eventOption{Value: et.Name, Description: et.Description})
	}
	var ps []string
	for p := range prefixes {
		ps = append(ps, p)
	}
	sort.Strings(ps)
	for _, p := range ps {
		out = append(out, eventOption{Value: p + ".*", Description: "Every type whose name starts with " + p + "."})
	}
	out = append(out, types...)
	for _, s := range selected {
		found := false
		for _, o := range out {
			found = found || o.Value == s
		}
		if !found {
			out = append(out, eventOption{Value: s, Description: "Archived: no new events of it are published.", Archived: true})
		}
	}
	return out
}

const sampleEvent = `{
  "type": "invocation.completed",
  "data": {"status": "ok", "amount": 42},
  "metadata": {},
  "channels": []
}`

func (s *Server) showForm(w http.ResponseWriter, r *http.Request, v *visit, status int, wh *hookd.Webhook, f *webhookForm, problems *hookd.ValidationError, filterResult map[string]any) error {
	catalog, err := s.store.ListEventTypes(r.Context())
	if err != nil {
		return err
	}
	errs := map[string]string{}
	if problems != nil {
		for _, d := range problems.Details {
			key := d.Field
			if i := strings.IndexAny(key, ".["); i > 0 {
				key = key[:i]
			}
			if errs[key] != "" {
				errs[key] += "; "
			}
			errs[key] += d.Message
		}
	}
	if f.Sample == "" {
		f.Sample = sampleEvent
	}
	// Two blank rows to type into without JavaScript.
	f.Headers = append(f.Headers, kv{}, kv{})
	f.Metadata = append(f.Metadata, kv{}, kv{})
	title := "Create webhook"
	if wh != nil {
		title = "Edit " + wh.Name
	}
	version, original := f.Version, f.Original
	if wh != nil && version == "" {
		version, original = versionOf(wh), originalOf(wh)
	}
	s.render(w, r, v, status, "webhook_form", title, map[string]any{
		"Webhook": wh, "Version": version, "Original": original, "Form": f, "Errors": errs, "Problems": problems, "Options": eventOptions(catalog, f.Events),
		"Schemes": []string{hookd.SchemeStandard, hookd.SchemeStandardEd25519, hookd.SchemeSvix, hookd.SchemeGitHub, hookd.SchemeStripe,
			hookd.SchemePlinqx, hookd.SchemePlextrac, hookd.SchemeForjinn, hookd.SchemeHMACSHA256},
		"FilterResult": filterResult,
	})
	return nil
}

func (s *Server) newWebhookPage(w http.ResponseWriter, r *http.Request, v *visit) error {
	f := formOf(s.svc.NewWebhook(v.tenant.ID))
	return s.showForm(w, r, v, http.StatusOK, nil, f, nil, nil)
}

// checkFilter runs the form's filter against its sample event.
func checkFilter(f *webhookForm) map[string]any {
	if f.Filter == "" {
		return map[string]any{"Error": "There is no filter to test: without one, every event that matches the event types is sent."}
	}
	flt, err := hookd.CompileFilter(f.Filter)
	if err != nil {
		return map[string]any{"Error": "The filter " + err.Error()}
	}
	var sample struct {
		Type     string         `json:"type"`
		Data     map[string]any `json:"data"`
		Metadata map[string]any `json:"metadata"`
		Channels []string       `json:"channels"`
	}
	if err := json.Unmarshal([]byte(f.Sample), &sample); err != nil {
		return map[string]any{"Error": "The sample event is not a JSON object with type, data, metadata and channels: " + err.Error()}
	}
	if sample.Data == nil {
		sample.Data = map[string]any{}
	}
	if sample.Metadata == nil {
		sample.Metadata = map[string]any{}
	}
	ok, err := flt.Match(&hookd.FilterInput{Type: sample.Type, Data: sample.Data, Metadata: sample.Metadata, Channels: sample.Channels})
	if err != nil {
		return map[string]any{"Error": "Evaluating the filter failed, which counts as no match: " + err.Error()}
	}
	return map[string]any{"Match": ok}
}

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request, v *visit) error {
	f := parseForm(r.PostForm)
	if r.PostForm.Get("action") == "test-filter" {
		return s.showForm(w, r, v, http.StatusOK, nil, f, nil, checkFilter(f))
	}
	wh := s.svc.NewWebhook(v.tenant.ID)
	problems := &hookd.ValidationError{}
	f.apply(problems, wh)
	var secret *string
	switch {
	case f.Unsigned:
		secret = new(string) // only non-standard HMAC schemes allow it
	case f.Secret != "":
		secret = &f.Secret
	}
	err := s.svc.CreateWebhook(r.Context(), wh, secret, problems)
	var ve *hookd.ValidationError
	if errors.As(err, &ve) {
		return s.showForm(w, r, v, http.StatusUnprocessableEntity, nil, f, ve, nil)
	}
	if err != nil {
		return err
	}
	s.redirect(w, r, "/console/webhooks/"+wh.ID+"?secret=show", "notice=created")
	return nil
}

func (s *Server) loadWebhook(r *http.Request, v *visit) (*hookd.Webhook, error) {
	id := r.PathValue("id")
	wh, err := s.svc.Webhook(r.Context(), v.tenant.ID, id)
	if errors.Is(err, hookd.ErrNotFound) {
		return nil, notFound("There is no webhook " + id + " in " + sentence(v.tenant.Name))
	}
	return wh, err
}

func (s *Server) editWebhookPage(w http.ResponseWriter, r *http.Request, v *visit) error {
	wh, err := s.loadWebhook(r, v)
	if err != nil {
		return err
	}
	return s.showForm(w, r, v, http.StatusOK, wh, formOf(wh), nil, nil)
}

// errStale: the form was filled in over a version of the webhook that has
// changed since.
var errStale = errors.New("stale form")

func (s *Server) updateWebhook(w http.ResponseWriter, r *http.Request, v *visit) error {
	wh, err := s.loadWebhook(r, v)
	if err != nil {
		return err
	}
	f := parseForm(r.PostForm)
	if r.PostForm.Get("action") == "test-filter" {
		return s.showForm(w, r, v, http.StatusOK, wh, f, nil, checkFilter(f))
	}
	var version time.Time
	if raw := r.PostForm.Get("version"); raw != "" {
		if version, err = time.Parse(time.RFC3339Nano, raw); err != nil {
			return &pageError{http.StatusBadRequest, "The form's version field is not one this console wrote."}
		}
	}
	updated, err := s.svc.UpdateWebhook(r.Context(), v.tenant.ID, wh.ID, version, func(wh *hookd.Webhook, problems *hookd.ValidationError) {
		f.apply(problems, wh)
	})
	var ve *hookd.ValidationError
	switch {
	case errors.Is(err, hookd.ErrConflict):
		// Shown over the current version: saving again is a deliberate
		// choice to overwrite what the other person changed.
		current, err := s.loadWebhook(r, v)
		if err != nil {
			return err
		}
		stale := &hookd.ValidationError{}
		orig, ok := decodeOriginal(r.PostForm.Get("original"))
		if !ok {
			stale.Add(current.Name, "was changed by someone else since you opened this form, so your changes were not saved. "+
				"Check the form and save again to apply them over the current version.")
			f.Version, f.Original = "", "" // the current version's
			return s.showForm(w, r, v, http.StatusConflict, current, f, stale, nil)
		}
		merged, both := mergeStale(f, orig, formOf(current))
		merged.Version, merged.Original = versionOf(current), originalOf(current)
		stale.Add(current.Name, "was changed by someone else since you opened this form, so your changes were not saved. "+
			"The form now shows the current version with your changes on top of it: check it and save again.")
		for _, key := range both {
			stale.Add(key, "was changed by someone else too; the form keeps your value, which saving again puts over theirs")
		}
		return s.showForm(w, r, v, http.StatusConflict, current, merged, stale, nil)
	case errors.As(err, &ve):
		return s.showForm(w, r, v, http.StatusUnprocessableEntity, wh, f, ve, nil)
	case err != nil:
		return err
	}
	to, notice := "/console/webhooks/"+updated.ID, "saved"
	switch disabled := wh.Enabled && !updated.Enabled; {
	case updated.Secret != wh.Secret && disabled:
		to, notice = to+"?secret=show#secret", "saved-secret-disabled"
	case updated.Secret != wh.Secret: // a scheme whose secrets the old one does not fit
		to, notice = to+"?secret=show#secret", "saved-secret"
	case disabled:
		notice = "saved-disabled"
	}
	s.redirect(w, r, to, "notice="+notice)
	return nil
}

// originalOf is the form's record of the values it showed first, so that
// a save that lost a race to another edit can tell the fields the user
// changed from those they left alone (mergeStale).
func originalOf(wh *hookd.Webhook) string {
	b, _ := json.Marshal(formOf(wh))
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeOriginal(raw string) (*webhookForm, bool) {
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil || raw == "" {
		return nil, false
	}
	var f webhookForm
	return &f, json.Unmarshal(b, &f) == nil
}

// mergeStale is the form to show again after a save lost to another
// edit: each field the user left as the form first showed it (orig) takes
// its current value (cur), each field they changed keeps theirs (mine);
// both lists the fields that they and the other edit changed differently.
// The secret, the unsigned box and the filter's sample are theirs alone.
func mergeStale(mine, orig, cur *webhookForm) (merged *webhookForm, both []string) {
	out := *mine
	vm, vo, vc, vout := reflect.ValueOf(normalForm(mine)).Elem(), reflect.ValueOf(normalForm(orig)).Elem(),
		reflect.ValueOf(normalForm(cur)).Elem(), reflect.ValueOf(&out).Elem()
	raw := reflect.ValueOf(cur).Elem()
	for i := range vm.NumField() {
		name := vm.Type().Field(i).Name
		if name == "Secret" || name == "Unsigned" || name == "Sample" || name == "Version" || name == "Original" {
			continue
		}
		m, o, c := vm.Field(i).Interface(), vo.Field(i).Interface(), vc.Field(i).Interface()
		switch {
		case reflect.DeepEqual(m, o):
			vout.Field(i).Set(raw.Field(i))
		case !reflect.DeepEqual(c, o) && !reflect.DeepEqual(m, c):
			both = append(both, formKey(name))
		}
	}
	return &out, both
}

// normalForm is f as compared by mergeStale: lists in order, empty ones
// nil, line breaks as a browser posts a textarea's, so that a form posted
// back as shown equals the one shown.
func normalForm(f *webhookForm) *webhookForm {
	n := *f
	// A textarea posts its line breaks as CRLF; an input drops them; the
	// form trims the URL and the filter.
	lines := strings.NewReplacer("\r\n", "\n")
	oneLine := strings.NewReplacer("\r", "", "\n", "")
	n.Description, n.Sig.Content = lines.Replace(f.Description), lines.Replace(f.Sig.Content)
	n.Filter, n.URL = strings.TrimSpace(lines.Replace(f.Filter)), strings.TrimSpace(oneLine.Replace(f.URL))
	for _, s := range []*string{&n.Name, &n.Channels, &n.Sig.Header, &n.Sig.Prefix, &n.Sig.TimestampHeader, &n.Sig.EventHeader} {
		*s = oneLine.Replace(*s)
	}
	n.Events = slices.Sorted(slices.Values(f.Events))
	n.Headers, n.Metadata = slices.Clone(f.Headers), slices.Clone(f.Metadata)
	for _, rows := range []*[]kv{&n.Headers, &n.Metadata} {
		for i, r := range *rows {
			(*rows)[i] = kv{strings.TrimSpace(oneLine.Replace(r.Key)), oneLine.Replace(r.Value)}
		}
		slices.SortFunc(*rows, func(a, b kv) int { return strings.Compare(a.Key, b.Key) })
		if len(*rows) == 0 {
			*rows = nil
		}
	}
	if len(n.Events) == 0 {
		n.Events = nil
	}
	return &n
}

// formKey is the key of a form field's problems (webhook_form's $e).
func formKey(field string) string {
	switch field {
	case "URL":
		return "url"
	case "SSLVerification":
		return "sslVerification"
	case "Sig":
		return "signature"
	}
	return strings.ToLower(field[:1]) + field[1:]
}

// versionOf is the form's record of the version it edits.
func versionOf(wh *hookd.Webhook) string { return wh.UpdatedAt.UTC().Format(time.RFC3339Nano) }

func (s *Server) webhookPage(w http.ResponseWriter, r *http.Request, v *visit) error {
	return s.showWebhook(w, r, v, nil)
}

// showWebhook draws a webhook's page; test is a test send's result to show.
func (s *Server) showWebhook(w http.ResponseWriter, r *http.Request, v *visit, test map[string]any) error {
	wh, err := s.loadWebhook(r, v)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	dq := hookd.DeliveryQuery{TenantID: wh.TenantID, WebhookID: wh.ID, Limit: 26, Before: q.Get("before")}
	var list []*hookd.Delivery
	total := 0
	status, problem := statusFilter(q.Get("status"))
	if problem == "" {
		dq.Status = status
		if list, total, err = s.store.ListDeliveries(r.Context(), dq); err != nil {
			return err
		}
	}
	data := map[string]any{"Webhook": wh, "Status": string(dq.Status), "StatusProblem": problem, "Total": total, "Before": dq.Before, "Test": test,
		"Scheme": wh.Signature.SchemeName()}
	if len(list) > 25 {
		list = list[:25]
		next := url.Values{"before": {list[24].ID}}
		if dq.Status != "" {
			next.Set("status", string(dq.Status))
		}
		data["Next"] = "/console/webhooks/" + wh.ID + "?" + next.Encode() + "#deliveries"
	}
	data["Deliveries"] = list
	st, err := s.store.Stats(r.Context(), hookd.StatsQuery{TenantID: wh.TenantID, WebhookID: wh.ID, Since: s.clock.Now().Add(-24 * time.Hour)})
	if err != nil {
		return err
	}
	data["Stats"] = st
	waiting := map[string]int{}
	for _, st := range []hookd.DeliveryStatus{hookd.StatusPending, hookd.StatusRetrying} {
		n, err := s.store.CountTenantDeliveries(r.Context(), hookd.TenantDeliveryQuery{TenantID: wh.TenantID, WebhookID: wh.ID, Status: st})
		if err != nil {
			return err
		}
		if n > 0 {
			waiting[string(st)] = n
		}
	}
	if len(waiting) > 0 {
		data["Waiting"] = waiting
	}
	if test == nil {
		if id := flashValues(r).Get("test"); id != "" {
			if d, err := s.store.GetDelivery(r.Context(), wh.TenantID, id); err == nil && len(d.Attempts) > 0 {
				test = map[string]any{"Result": testResult(d)}
				data["Test"] = test
			}
		}
	}
	if data["TestTypes"], err = s.testTypes(r, wh); err != nil {
		return err
	}
	if q.Get("secret") == "show" && !v.session.ReadOnly {
		secret, err := wh.ShownSecret()
		if err != nil {
			return err
		}
		data["Secret"] = secret
		data["ShowSecret"] = true
		if wh.Signature.SchemeName() == hookd.SchemeStandardEd25519 {
			if pk, err := hookd.PublicKey(secret); err == nil {
				data["PublicKey"] = pk
			}
		}
	}
	data["OldSecrets"] = wh.LiveOldSecrets(s.clock.Now())
	s.render(w, r, v, http.StatusOK, "webhook", wh.Name, data)
	return nil
}

func (s *Server) testWebhook(w http.ResponseWriter, r *http.Request, v *visit) error {
	wh, err := s.loadWebhook(r, v)
	if err != nil {
		return err
	}
	typ := strings.TrimSpace(r.PostForm.Get("type"))
	if typ != "" && !hookd.ValidEventTypeName(typ) {
		return s.showWebhook(w, r, v, map[string]any{"Error": "The event type must look like invocation.completed."})
	}
	var data json.RawMessage
	if raw := strings.TrimSpace(r.PostForm.Get("data")); raw != "" {
		var obj map[string]any
		switch {
		case hookd.DataTooLarge([]byte(raw), false):
			// Shown back in full it would be a page of it: not shown.
			return s.showWebhook(w, r, v, map[string]any{"Error": fmt.Sprintf("The data is larger than %d KiB; an event's data is at most that.", hookd.MaxEventData>>10), "Type": typ})
		case json.Unmarshal([]byte(raw), &obj) != nil || obj == nil:
			return s.showWebhook(w, r, v, map[string]any{"Error": "The data must be a JSON object, like {\"id\": \"inv_1\"}.", "Type": typ, "Data": raw})
		}
		data = json.RawMessage(raw)
	}
	if !s.svc.CanTest() {
		return s.showWebhook(w, r, v, map[string]any{"Error": "This hookd process does not deliver (--role api); send tests from one that does."})
	}
	res, err := s.svc.Test(r.Context(), wh.TenantID, wh.ID, typ, data)
	if err != nil {
		return err
	}
	// The answer is shown by the page this redirects to, from the test's
	// stored delivery: a reload shows it again without sending again.
	s.redirect(w, r, "/console/webhooks/"+wh.ID+"#test-result", "test="+url.QueryEscape(res.DeliveryID))
	return nil
}

func (s *Server) retryFailed(w http.ResponseWriter, r *http.Request, v *visit) error {
	wh, win, err := s.windowed(r, v, true)
	if err != nil {
		return err
	}
	n, err := s.svc.RetryFailed(r.Context(), wh.TenantID, wh.ID, win)
	if err != nil {
		return err
	}
	s.redirect(w, r, "/console/webhooks/"+wh.ID, "retried="+strconv.Itoa(n))
	return nil
}

func (s *Server) setEnabled(w http.ResponseWriter, r *http.Request, v *visit) error {
	enabled := r.PostForm.Get("enabled")
	if enabled != "true" && enabled != "false" {
		return &pageError{http.StatusBadRequest, "The form could not be read: enabled must be true or false."}
	}
	wh, err := s.svc.SetEnabled(r.Context(), v.tenant.ID, r.PathValue("id"), enabled == "true")
	if err != nil {
		return err
	}
	notice := "disabled"
	if wh.Enabled {
		notice = "enabled"
	}
	s.redirect(w, r, "/console/webhooks/"+wh.ID, "notice="+notice)
	return nil
}

func (s *Server) rotateSecret(w http.ResponseWriter, r *http.Request, v *visit) error {
	grace, err := time.ParseDuration(r.PostForm.Get("grace"))
	if err != nil || grace < 0 || grace > hookd.MaxGrace {
		return &pageError{http.StatusUnprocessableEntity, "The grace period must be between none and 30 days."}
	}
	id := r.PathValue("id")
	if _, err := s.svc.RotateSecret(r.Context(), v.tenant.ID, id, nil, &grace); err != nil {
		return err
	}
	s.redirect(w, r, "/console/webhooks/"+id+"?secret=show#secret", "notice=rotated")
	return nil
}

func (s *Server) deleteWebhookPage(w http.ResponseWriter, r *http.Request, v *visit) error {
	wh, err := s.loadWebhook(r, v)
	if err != nil {
		return err
	}
	s.render(w, r, v, http.StatusOK, "webhook_delete", "Delete "+wh.Name, map[string]any{"Webhook": wh})
	return nil
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request, v *visit) error {
	wh, err := s.loadWebhook(r, v)
	if err != nil {
		return err
	}
	// A long history goes in steps that may outlast the server's write
	// timeout; the delete runs to the end either way.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	if err := s.svc.DeleteWebhook(r.Context(), wh.TenantID, wh.ID); err != nil {
		return err
	}
	s.redirect(w, r, "/console/webhooks", "deleted="+url.QueryEscape(wh.Name))
	return nil
}

// testType is a choice of the test-send form: a type the webhook
// subscribes to, with its first example (what is sent unless edited).
type testType struct {
	Name    string
	Example string
}

// testTypes are the catalog's types the webhook subscribes to, those with
// an example first.
func (s *Server) testTypes(r *http.Request, wh *hookd.Webhook) ([]testType, error) {
	all, err := s.store.ListEventTypes(r.Context())
	if err != nil {
		return nil, err
	}
	var with, without []testType
	for _, et := range all {
		if et.Archived || hookd.SystemEventType(et.Name) || !slices.ContainsFunc(wh.Events, func(p string) bool { return hookd.PatternMatches(p, et.Name) }) {
			continue
		}
		if len(et.Examples) == 0 {
			without = append(without, testType{Name: et.Name})
			continue
		}
		var pretty bytes.Buffer
		if json.Indent(&pretty, et.Examples[0], "", "  ") != nil {
			pretty.Reset()
			pretty.Write(et.Examples[0])
		}
		with = append(with, testType{Name: et.Name, Example: pretty.String()})
	}
	return append(with, without...), nil
}

// testResult is a test send's answer, read back from its stored delivery.
func testResult(d *hookd.DeliveryDetail) *hookd.TestResult {
	a := d.Attempts[len(d.Attempts)-1]
	res := a.TestResult(d.Delivery.ID, d.Delivery.EventID)
	if a.StatusCode != 0 && a.Error == fmt.Sprintf("HTTP %d", a.StatusCode) {
		res.Error = nil // the status already says it
	}
	return res
}
