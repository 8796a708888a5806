// Package netguard is hookd's SSRF guard: the one address policy that says
// which IP addresses a webhook may reach. The API applies it to a URL when a
// webhook is created or changed; the delivery engine applies it again to the
// address actually dialled (Policy.Control), so that DNS answers that change
// between the two checks cannot get through.
package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/net/idna"
)

// ErrBlocked is wrapped by every refusal of the guard.
var ErrBlocked = errors.New("blocked by the SSRF guard")

type rangeRule struct {
	prefix netip.Prefix
	reason string
}

// The blocked ranges. IPv4-mapped IPv6 addresses are unmapped before they
// are compared, so ::ffff:127.0.0.1 is loopback like 127.0.0.1.
var blocked = func() []rangeRule {
	rules := []struct{ cidr, reason string }{
		{"0.0.0.0/8", "unspecified"},
		{"127.0.0.0/8", "loopback"},
		{"10.0.0.0/8", "private"},
		{"172.16.0.0/12", "private"},
		{"192.168.0.0/16", "private"},
		{"169.254.0.0/16", "link-local"},
		{"100.64.0.0/10", "CGNAT"},
		{"224.0.0.0/4", "multicast"},
		{"240.0.0.0/4", "reserved"}, // includes 255.255.255.255
		{"192.0.0.0/24", "reserved"},
		{"192.0.2.0/24", "reserved"},
		{"192.88.99.0/24", "reserved"}, // 6to4 relay anycast, deprecated
		{"198.18.0.0/15", "reserved"},
		{"198.51.100.0/24", "reserved"},
		{"203.0.113.0/24", "reserved"},
		{"::/128", "unspecified"},
		{"::1/128", "loopback"},
		{"::/96", "reserved"}, // IPv4-compatible, deprecated
		{"fc00::/7", "private"},
		{"fe80::/10", "link-local"},
		{"fec0::/10", "reserved"}, // site-local, deprecated
		{"ff00::/8", "multicast"},
		{"::ffff:0:0:0/96", "reserved"}, // IPv4-translated (SIIT): embeds an IPv4 address
		{"64:ff9b::/96", "reserved"},    // NAT64: may embed a private IPv4
		{"64:ff9b:1::/48", "reserved"},  // local NAT64
		{"100::/64", "reserved"},        // discard
		{"2001:db8::/32", "reserved"},   // documentation
		{"2002::/16", "reserved"},       // 6to4: may embed a private IPv4
		{"2001::/32", "reserved"},       // Teredo
	}
	out := make([]rangeRule, len(rules))
	for i, r := range rules {
		out[i] = rangeRule{netip.MustParsePrefix(r.cidr), r.reason}
	}
	return out
}()

// Policy decides which addresses may be reached. The zero value blocks every
// range above; Allow lets chosen networks through.
type Policy struct {
	allow []netip.Prefix
	// Resolver looks names up for CheckResolved; nil is the system's, the
	// one the sender's dialer uses.
	Resolver *net.Resolver
}

// New returns a policy that lets the allow networks through.
func New(allow []netip.Prefix) *Policy { return &Policy{allow: allow} }

// ParseAllowList parses a comma-separated list of CIDRs (or single
// addresses) as given to --allow-networks.
func ParseAllowList(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("allow-networks: %q is not a CIDR or address", f)
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("allow-networks: %q is not a CIDR", f)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// CheckAddr returns nil when a may be reached, or a *BlockedError.
func (p *Policy) CheckAddr(a netip.Addr) error {
	a = a.WithZone("")
	if kind := p.blockedKind(a); kind != "" {
		return &BlockedError{Addr: a, Kind: kind}
	}
	return nil
}

// BlockedError is the guard's refusal of an address it was about to
// connect to. Its Error names the address, for the operator's log; Kind
// alone is for the tenant, who must not learn from an attempt's error
// what hookd's own DNS maps a name to.
type BlockedError struct {
	Addr netip.Addr
	Kind string // "a private address"
}

func (e *BlockedError) Error() string {
	return e.Addr.String() + " is " + e.Kind + ": " + ErrBlocked.Error()
}

func (e *BlockedError) Unwrap() error { return ErrBlocked }

// blockedKind says what kind of address the policy blocks a as ("a
// private address"), or "" when it lets a through. The allow list is
// matched against the address unmapped, as the blocked ranges are: matched
// as written too, an allowed ::/0 let ::ffff:127.0.0.1 through.
func (p *Policy) blockedKind(a netip.Addr) string {
	u := a.WithZone("").Unmap()
	for _, n := range p.allowList() {
		if n.Contains(u) {
			return ""
		}
	}
	for _, r := range blocked {
		if r.prefix.Contains(u) {
			article := "a"
			if strings.ContainsRune("aeiou", rune(r.reason[0])) {
				article = "an"
			}
			return article + " " + r.reason + " address"
		}
	}
	return ""
}

func (p *Policy) allowList() []netip.Prefix {
	if p == nil {
		return nil
	}
	return p.allow
}

// hostMapping maps a host as browsers and Go's HTTP client do before they
// look it up (UTS #46: full-width digits and letters to ASCII, ideographic
// full stops to dots), without refusing names DNS allows (underscores).
var hostMapping = idna.New(idna.MapForLookup(), idna.StrictDomainName(false), idna.Transitional(false))

// normalHost is host as it will be looked up.
func normalHost(host string) string {
	h := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.Contains(h, ":") {
		return strings.ToLower(h) // an IPv6 literal: nothing to map
	}
	if mapped, err := hostMapping.ToASCII(h); err == nil && mapped != "" {
		h = mapped
	}
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

// CheckHost applies the policy to a URL's host as written: a literal
// address (in any form a resolver would accept, such as 2130706433,
// 0x7f.1 or １２７。０。０。１) or localhost. Other names are checked by
// Resolve and again when they are dialled.
func (p *Policy) CheckHost(host string) error {
	h := normalHost(host)
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		if err := p.CheckAddr(netip.MustParseAddr("127.0.0.1")); err != nil {
			return fmt.Errorf("%s is a loopback name: %w", host, ErrBlocked)
		}
		return nil
	}
	if i := strings.IndexByte(h, '%'); i >= 0 { // zone
		h = h[:i]
	}
	if a, err := netip.ParseAddr(h); err == nil {
		return p.CheckAddr(a)
	}
	if a, ok := parseLegacyIPv4(h); ok {
		return p.CheckAddr(a)
	}
	return nil
}

// OddAddress returns the address a URL's host names when it is written in a
// form a resolver may read but the sender's dialer does not (127.1,
// 0x7f000001, a trailing dot): a webhook with it could never be sent to.
// Full-width digits are not odd: Go's client maps them, as normalHost does.
func OddAddress(host string) (netip.Addr, bool) {
	raw := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if _, err := netip.ParseAddr(raw); err == nil {
		return netip.Addr{}, false
	}
	h := normalHost(host)
	if i := strings.IndexByte(h, '%'); i >= 0 {
		h = h[:i]
	}
	if a, err := netip.ParseAddr(h); err == nil {
		// Mapped as the client maps it; but for a trailing dot, which
		// makes the client look the address up as a name.
		return a, strings.HasSuffix(raw, ".") || strings.HasSuffix(raw, "。")
	}
	return parseLegacyIPv4(h)
}

// ResolveTimeout bounds CheckResolved's lookup.
const ResolveTimeout = 2 * time.Second

// CheckResolved looks host up as the sender will (the system's resolver,
// /etc/hosts included) and refuses it if any address it names is blocked,
// so that a name mapped to a private address is refused when the webhook
// is saved, not only when it is dialled. A name that does not resolve now
// passes: its DNS may be set up later, and every dial is checked anyway.
func (p *Policy) CheckResolved(ctx context.Context, host string) error {
	h := normalHost(host)
	if _, err := netip.ParseAddr(h); err == nil {
		return nil // a literal: CheckHost's
	}
	ctx, cancel := context.WithTimeout(ctx, ResolveTimeout)
	defer cancel()
	addrs, err := p.resolver().LookupNetIP(ctx, "ip", h)
	if err != nil {
		return nil
	}
	for _, a := range addrs {
		// The address itself is not said: a client could otherwise map
		// the names of hookd's network through its resolver.
		if kind := p.blockedKind(a); kind != "" {
			return fmt.Errorf("%s resolves to %s: %w", host, kind, ErrBlocked)
		}
	}
	return nil
}

// Offline is a resolver that looks nothing up: with it, CheckResolved
// passes every name (dials are still checked). Tests use it, so that they
// send no DNS query off the machine.
var Offline = &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
	return nil, errors.New("netguard: offline resolver")
}}

func (p *Policy) resolver() *net.Resolver {
	if p != nil && p.Resolver != nil {
		return p.Resolver
	}
	return net.DefaultResolver
}

// parseLegacyIPv4 reads the inet_aton forms some resolvers accept: one to
// four parts, each decimal, octal (leading 0) or hex (0x).
func parseLegacyIPv4(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 || s == "" {
		return netip.Addr{}, false
	}
	vals := make([]uint64, len(parts))
	for i, part := range parts {
		if part == "" {
			return netip.Addr{}, false
		}
		v, err := strconv.ParseUint(part, 0, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	var n uint64
	last := len(vals) - 1
	for i := 0; i < last; i++ {
		if vals[i] > 255 {
			return netip.Addr{}, false
		}
		n |= vals[i] << (24 - 8*uint(i))
	}
	if vals[last] >= 1<<(32-8*uint(last)) {
		return netip.Addr{}, false
	}
	n |= vals[last]
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
}

// Control is a net.Dialer.Control hook: it runs after name resolution, on
// the address about to be connected, and refuses blocked ones.
func (p *Policy) Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		host, _, splitErr := net.SplitHostPort(address)
		if splitErr != nil {
			return fmt.Errorf("dial %s: %w", address, ErrBlocked)
		}
		a, parseErr := netip.ParseAddr(host)
		if parseErr != nil {
			return fmt.Errorf("dial %s: not an IP address: %w", address, ErrBlocked)
		}
		return p.CheckAddr(a)
	}
	return p.CheckAddr(ap.Addr())
}
