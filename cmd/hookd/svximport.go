package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

const svixImportUsage = `Usage: hookd svix-import --from URL --from-token TOKEN --to URL --to-token KEY

Copies what a platform configured in a Svix server (svix-server, or any
server speaking Svix's API) into hookd through hookd's Svix-compatible API:
the event types (with their schemas, archived ones too), the applications
(a tenant each: its uid, or else its id, becomes the tenant id) and their
endpoints (URL, filters, channels, rate limit, metadata, disabled, headers
and the signing secret, so receivers keep verifying). An endpoint's uid in
hookd is its uid in the source, or else its id there, so the ids a platform
keeps still name it in /api/v1 paths. Run it again to pick up what changed:
what hookd has already is updated, never made twice. Messages and attempts
stay where they are (hookd starts their history afresh); values of headers
the source marks sensitive are not readable through its API and are listed
to be set again by hand.

Every flag can also be set by the variable HOOKD_SVIX_ and its name
(--from-token: HOOKD_SVIX_FROM_TOKEN); a flag given wins.

Flags:
`

// runSvixImport is `hookd svix-import`.
func runSvixImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("hookd svix-import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, svixImportUsage); fs.PrintDefaults() }
	from := fs.String("from", "", "the source server's base URL (as the Svix SDKs' serverUrl; env HOOKD_SVIX_FROM)")
	fromToken := fs.String("from-token", "", "the source's API token (env HOOKD_SVIX_FROM_TOKEN, which keeps it out of the process list)")
	to := fs.String("to", "", "hookd's base URL (env HOOKD_SVIX_TO)")
	toToken := fs.String("to-token", "", "hookd's admin key (env HOOKD_SVIX_TO_TOKEN)")
	if err := parseFlags(fs, "HOOKD_SVIX_", args); err != nil {
		return err
	}
	if *from == "" || *to == "" || *fromToken == "" || *toToken == "" || fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	im := &svixImport{
		src: &svixClient{base: strings.TrimRight(*from, "/"), token: *fromToken},
		dst: &svixClient{base: strings.TrimRight(*to, "/"), token: *toToken},
		out: stdout,
		hc:  &http.Client{Timeout: 30 * time.Second},
	}
	im.src.hc, im.dst.hc = im.hc, im.hc
	return im.run(ctx)
}

type svixImport struct {
	src, dst *svixClient
	out      io.Writer
	hc       *http.Client
	counts   struct{ types, apps, endpoints, skipped int }
}

func (im *svixImport) run(ctx context.Context) error {
	types, err := im.src.list(ctx, "/api/v1/event-type", url.Values{"include_archived": {"true"}, "with_content": {"true"}})
	if err != nil {
		return fmt.Errorf("list the source's event types: %w", err)
	}
	for _, et := range types {
		if err := im.eventType(ctx, et); err != nil {
			return err
		}
	}
	apps, err := im.src.list(ctx, "/api/v1/app", nil)
	if err != nil {
		return fmt.Errorf("list the source's applications: %w", err)
	}
	for _, app := range apps {
		if err := im.app(ctx, app); err != nil {
			return err
		}
	}
	fmt.Fprintf(im.out, "imported %d event types, %d applications, %d endpoints\n", im.counts.types, im.counts.apps, im.counts.endpoints)
	if im.counts.skipped > 0 {
		return fmt.Errorf("%d endpoints were not imported in full: hookd refused them (above: what and why)", im.counts.skipped)
	}
	return nil
}

// eventType copies one type: made, or replaced when hookd has it.
func (im *svixImport) eventType(ctx context.Context, et map[string]any) error {
	name, _ := et["name"].(string)
	in := pick(et, "name", "description", "schemas", "archived", "deprecated", "featureFlag", "groupName")
	status, body, err := im.dst.do(ctx, http.MethodPost, "/api/v1/event-type", in)
	if err == nil && status == http.StatusConflict {
		status, body, err = im.dst.do(ctx, http.MethodPut, "/api/v1/event-type/"+url.PathEscape(name), in)
	}
	if err := answered(err, status, body, "event type "+name); err != nil {
		return err
	}
	im.counts.types++
	fmt.Fprintf(im.out, "event type %s\n", name)
	return nil
}

// app copies an application and its endpoints.
func (im *svixImport) app(ctx context.Context, app map[string]any) error {
	srcID, _ := app["id"].(string)
	tenant := srcID
	if uid, _ := app["uid"].(string); uid != "" {
		tenant = uid
	}
	in := pick(app, "name", "metadata", "rateLimit")
	in["uid"] = tenant
	// PUT makes the application or renames it.
	status, body, err := im.dst.do(ctx, http.MethodPut, "/api/v1/app/"+url.PathEscape(tenant), in)
	if err := answered(err, status, body, "application "+tenant); err != nil {
		return err
	}
	im.counts.apps++
	fmt.Fprintf(im.out, "application %s → tenant %s\n", srcID, tenant)
	eps, err := im.src.list(ctx, "/api/v1/app/"+url.PathEscape(srcID)+"/endpoint", nil)
	if err != nil {
		return fmt.Errorf("list the endpoints of application %s: %w", srcID, err)
	}
	for _, ep := range eps {
		if err := im.endpoint(ctx, srcID, tenant, ep); err != nil {
			return err
		}
	}
	return nil
}

// endpoint copies one endpoint with its secret and headers: made, or
// replaced (PUT) when hookd has one of its uid.
func (im *svixImport) endpoint(ctx context.Context, srcApp, tenant string, ep map[string]any) error {
	srcID, _ := ep["id"].(string)
	uid := srcID
	if u, _ := ep["uid"].(string); u != "" {
		uid = u
	}
	srcPath := "/api/v1/app/" + url.PathEscape(srcApp) + "/endpoint/" + url.PathEscape(srcID)
	dstPath := "/api/v1/app/" + url.PathEscape(tenant) + "/endpoint"
	var secret struct {
		Key string `json:"key"`
	}
	if err := im.src.get(ctx, srcPath+"/secret", &secret); err != nil {
		return fmt.Errorf("read the secret of endpoint %s: %w", srcID, err)
	}
	var headers struct {
		Headers   map[string]string `json:"headers"`
		Sensitive []string          `json:"sensitive"`
	}
	if err := im.src.get(ctx, srcPath+"/headers", &headers); err != nil {
		return fmt.Errorf("read the headers of endpoint %s: %w", srcID, err)
	}
	in := pick(ep, "url", "description", "filterTypes", "channels", "rateLimit", "throttleRate", "metadata", "disabled", "version")
	in["uid"], in["secret"] = uid, secret.Key
	status, body, err := im.dst.do(ctx, http.MethodGet, dstPath+"/"+url.PathEscape(uid), nil)
	var secretRefused []byte // why hookd kept its secret for the endpoint
	switch {
	case err != nil:
	case status == http.StatusNotFound:
		status, body, err = im.dst.do(ctx, http.MethodPost, dstPath, in)
	case status == http.StatusOK:
		// PUT keeps hookd's secret; a secret changed at the source since
		// is rotated in (the one hookd had signs on through the grace).
		delete(in, "secret")
		status, body, err = im.dst.do(ctx, http.MethodPut, dstPath+"/"+url.PathEscape(uid), in)
		var had struct {
			Key string `json:"key"`
		}
		if err == nil && status == http.StatusOK {
			err = im.dst.get(ctx, dstPath+"/"+url.PathEscape(uid)+"/secret", &had)
		}
		if err == nil && status == http.StatusOK && had.Key != secret.Key {
			rs, rb, rerr := im.dst.do(ctx, http.MethodPost, dstPath+"/"+url.PathEscape(uid)+"/secret/rotate", map[string]any{"key": secret.Key})
			if rerr == nil && rs == http.StatusUnprocessableEntity {
				// The rest of the endpoint is copied; only its secret
				// stays hookd's, which signs on.
				secretRefused = bytes.TrimSpace(rb)
			} else if err = answered(rerr, rs, rb, "the secret of endpoint "+srcID); err != nil {
				return err
			}
		}
	}
	if err == nil && status == http.StatusUnprocessableEntity {
		// One endpoint hookd cannot take (a secret no Svix endpoint has,
		// from another hookd's github-scheme webhook, say) stops nothing
		// else: said, counted, and the import goes on.
		im.counts.skipped++
		fmt.Fprintf(im.out, "  endpoint %s skipped: hookd refused it: %s\n", srcID, bytes.TrimSpace(body))
		return nil
	}
	if err := answered(err, status, body, "endpoint "+srcID); err != nil {
		return err
	}
	// The source's headers are set and the ones it no longer has are
	// removed (null), by PATCH: the sensitive ones set in hookd by hand
	// (which neither side shows) stay.
	var have struct {
		Headers map[string]string `json:"headers"`
	}
	if err := im.dst.get(ctx, dstPath+"/"+url.PathEscape(uid)+"/headers", &have); err != nil {
		return fmt.Errorf("read the headers of endpoint %s in hookd: %w", uid, err)
	}
	patch := map[string]any{}
	for k := range have.Headers {
		if _, ok := headers.Headers[k]; !ok {
			patch[k] = nil
		}
	}
	for k, v := range headers.Headers {
		patch[k] = v
	}
	if len(patch) > 0 {
		status, body, err := im.dst.do(ctx, http.MethodPatch, dstPath+"/"+url.PathEscape(uid)+"/headers", map[string]any{"headers": patch})
		if err := answered(err, status, body, "the headers of endpoint "+srcID); err != nil {
			return err
		}
	}
	if secretRefused != nil {
		im.counts.skipped++
		fmt.Fprintf(im.out, "  endpoint %s → uid %s, but not its secret: hookd refused it (the secret hookd had signs on): %s\n", srcID, uid, secretRefused)
	} else {
		im.counts.endpoints++
		fmt.Fprintf(im.out, "  endpoint %s → uid %s\n", srcID, uid)
	}
	for _, h := range headers.Sensitive {
		fmt.Fprintf(im.out, "  endpoint %s: header %s is sensitive: set it again by hand\n", srcID, h)
	}
	return nil
}

// pick copies the named fields of m that are present.
func pick(m map[string]any, keys ...string) map[string]any {
	out := map[string]any{}
	for _, k := range keys {
		if v, ok := m[k]; ok {
			out[k] = v
		}
	}
	return out
}

// answered turns a failed request or an answer outside 2xx into an error
// that says what was being copied and what the server said.
func answered(err error, status int, body []byte, what string) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if status/100 != 2 {
		return fmt.Errorf("%s: HTTP %d: %s", what, status, bytes.TrimSpace(body))
	}
	return nil
}

// svixClient speaks Svix's API: bearer token, JSON, lists paged by
// iterator.
type svixClient struct {
	base, token string
	hc          *http.Client
}

func (c *svixClient) do(ctx context.Context, method, path string, in any) (int, []byte, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	return res.StatusCode, b, err
}

func (c *svixClient) get(ctx context.Context, path string, out any) error {
	status, body, err := c.do(ctx, http.MethodGet, path, nil)
	if err := answered(err, status, body, "GET "+path); err != nil {
		return err
	}
	return json.Unmarshal(body, out)
}

// list reads every page of a list.
func (c *svixClient) list(ctx context.Context, path string, q url.Values) ([]map[string]any, error) {
	if q == nil {
		q = url.Values{}
	}
	q.Set("limit", "250")
	var all []map[string]any
	for {
		var page struct {
			Data     []map[string]any `json:"data"`
			Iterator *string          `json:"iterator"`
			Done     bool             `json:"done"`
		}
		if err := c.get(ctx, path+"?"+q.Encode(), &page); err != nil {
			return nil, err
		}
		all = append(all, page.Data...)
		if page.Done || page.Iterator == nil || len(page.Data) == 0 {
			return all, nil
		}
		if q.Get("iterator") == *page.Iterator {
			return nil, errors.New("the source gave the same iterator twice")
		}
		q.Set("iterator", *page.Iterator)
	}
}
