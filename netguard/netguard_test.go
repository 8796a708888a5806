package netguard

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

func TestCheckHost(t *testing.T) {
	tests := []struct {
		host   string
		reason string // "" = allowed
	}{
		{"example.com", ""},
		{"93.184.216.34", ""},
		{"2606:2800:220:1:248:1893:25c8:1946", ""},
		{"localhost", "loopback"},
		{"LOCALHOST.", "loopback"},
		{"api.localhost", "loopback"},
		{"127.0.0.1", "loopback"},
		{"127.1.2.3", "loopback"},
		{"2130706433", "loopback"}, // 127.0.0.1 as one number
		{"0x7f.1", "loopback"},
		{"0177.0.0.1", "loopback"},
		{"::1", "loopback"},
		{"192.88.99.1", "reserved"}, // 6to4 relay anycast
		{"[::1]", "loopback"},
		{"::ffff:127.0.0.1", "loopback"},
		{"::ffff:10.1.2.3", "private"},
		{"::ffff:169.254.169.254", "link-local"},
		{"10.0.0.1", "private"},
		{"172.16.0.1", "private"},
		{"172.31.255.255", "private"},
		{"172.32.0.1", ""},
		{"192.168.1.1", "private"},
		{"fc00::1", "private"},
		{"fd12:3456::1", "private"},
		{"169.254.169.254", "link-local"},
		{"fe80::1", "link-local"},
		{"fe80::1%eth0", "link-local"},
		{"100.64.0.1", "CGNAT"},
		{"100.127.255.255", "CGNAT"},
		{"100.128.0.1", ""},
		{"0.0.0.0", "unspecified"},
		{"::", "unspecified"},
		{"224.0.0.1", "multicast"},
		{"ff02::1", "multicast"},
		{"255.255.255.255", "reserved"},
		{"240.0.0.1", "reserved"},
		{"192.0.2.1", "reserved"},
		{"2001:db8::1", "reserved"},
		{"64:ff9b::a00:1", "reserved"},
		{"8.8.8.8", ""},
		{"1.2.3.4.5", ""}, // not an address; a name, checked at dial time
		// Mapped as browsers and Go's HTTP client map a host before lookup.
		{"１２７.０.０.１", "loopback"}, // full-width digits and dots
		{"127。0。0。1", "loopback"}, // ideographic full stops
		{"１０。０。０。１", "private"},
		{"ＬＯＣＡＬＨＯＳＴ", "loopback"},
		{"[::ffff:0:127.0.0.1]", "reserved"}, // IPv4-translated
		{"ｅｘａｍｐｌｅ.com", ""},
	}
	p := New(nil)
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			err := p.CheckHost(tt.host)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("CheckHost(%q) = %v, want allowed", tt.host, err)
				}
				return
			}
			if !errors.Is(err, ErrBlocked) {
				t.Fatalf("CheckHost(%q) = %v, want blocked", tt.host, err)
			}
			if !strings.Contains(err.Error(), " "+tt.reason+" ") || strings.Contains(err.Error(), " a unspecified") {
				t.Fatalf("CheckHost(%q) = %q, want reason %q", tt.host, err, tt.reason)
			}
		})
	}
}

func TestAllowNetworks(t *testing.T) {
	allow, err := ParseAllowList(" 127.0.0.0/8, 10.1.0.0/16 ,fd00::/8, 192.168.7.7")
	if err != nil {
		t.Fatal(err)
	}
	p := New(allow)
	tests := []struct {
		host    string
		allowed bool
	}{
		{"127.0.0.1", true},
		{"localhost", true},
		{"::ffff:127.0.0.1", true},
		{"10.1.2.3", true},
		{"10.2.0.1", false},
		{"fd00::5", true},
		{"fc00::5", false},
		{"192.168.7.7", true},
		{"192.168.7.8", false},
		{"::1", false},
		{"169.254.169.254", false},
	}
	for _, tt := range tests {
		if err := p.CheckHost(tt.host); (err == nil) != tt.allowed {
			t.Errorf("CheckHost(%q) = %v, want allowed=%v", tt.host, err, tt.allowed)
		}
	}
	// Every IPv6 address allowed: an IPv4 address written mapped is still
	// the IPv4 address it maps, and not allowed by it.
	v6 := New([]netip.Prefix{netip.MustParsePrefix("::/0")})
	if err := v6.CheckHost("::ffff:127.0.0.1"); !errors.Is(err, ErrBlocked) {
		t.Errorf("::ffff:127.0.0.1 with ::/0 allowed: %v", err)
	}
	if err := v6.CheckHost("::1"); err != nil {
		t.Errorf("::1 with ::/0 allowed: %v", err)
	}
}

func TestParseAllowListErrors(t *testing.T) {
	for _, s := range []string{"nope", "10.0.0.0/33", "1.2.3/8"} {
		if _, err := ParseAllowList(s); err == nil {
			t.Errorf("ParseAllowList(%q) succeeded, want error", s)
		}
	}
	if got, err := ParseAllowList(""); err != nil || len(got) != 0 {
		t.Errorf("ParseAllowList(\"\") = %v, %v", got, err)
	}
}

func TestControl(t *testing.T) {
	p := New(nil)
	for addr, allowed := range map[string]bool{
		"127.0.0.1:80":         false,
		"[::1]:443":            false,
		"[::ffff:10.0.0.1]:80": false,
		"8.8.8.8:443":          true,
		"[2606:4700::1]:443":   true,
		"garbage":              false,
	} {
		if err := p.Control("tcp", addr, nil); (err == nil) != allowed {
			t.Errorf("Control(%q) = %v, want allowed=%v", addr, err, allowed)
		}
	}
	if err := New([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}).Control("tcp", "127.0.0.1:8080", nil); err != nil {
		t.Errorf("allowed loopback refused: %v", err)
	}
}

func FuzzCheckHost(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "0x7f.1", "::ffff:1.2.3.4", "example.com", "1.2.3.4.5", "[fe80::1%25eth0]"} {
		f.Add(s)
	}
	p := New(nil)
	f.Fuzz(func(t *testing.T, host string) {
		err := p.CheckHost(host)
		if err != nil && !errors.Is(err, ErrBlocked) {
			t.Fatalf("CheckHost(%q) returned a non-guard error %v", host, err)
		}
		if a, perr := netip.ParseAddr(host); perr == nil && a.Unmap().IsLoopback() && err == nil {
			t.Fatalf("loopback %q let through", host)
		}
	})
}

// dnsServer answers every A query with addr, over UDP on 127.0.0.1, and
// returns a resolver that asks it.
func dnsServer(t *testing.T, addr netip.Addr) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var p dnsmessage.Parser
			h, err := p.Start(buf[:n])
			if err != nil {
				continue
			}
			q, err := p.Question()
			if err != nil {
				continue
			}
			b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true})
			b.EnableCompression()
			_ = b.StartQuestions()
			_ = b.Question(q)
			_ = b.StartAnswers()
			if q.Type == dnsmessage.TypeA {
				_ = b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}, dnsmessage.AResource{A: addr.As4()})
			}
			msg, err := b.Finish()
			if err == nil {
				pc.WriteTo(msg, from)
			}
		}
	}()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", pc.LocalAddr().String())
	}}
}

// A name that resolves to a blocked address is refused when the webhook
// is saved; one that resolves to a public address, or not at all, passes.
func TestCheckResolved(t *testing.T) {
	private := &Policy{Resolver: dnsServer(t, netip.MustParseAddr("10.1.2.3"))}
	err := private.CheckResolved(t.Context(), "internal.example.com")
	if !errors.Is(err, ErrBlocked) || err.Error() != "internal.example.com resolves to a private address: "+ErrBlocked.Error() {
		t.Fatalf("a name of a private address: %v", err)
	}
	if err := private.CheckResolved(t.Context(), "ｉｎｔｅｒｎａｌ.example.com"); !errors.Is(err, ErrBlocked) {
		t.Fatalf("the same name in full-width letters: %v", err)
	}
	allowed := &Policy{allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, Resolver: private.Resolver}
	if err := allowed.CheckResolved(t.Context(), "internal.example.com"); err != nil {
		t.Fatalf("an allowed network: %v", err)
	}
	public := &Policy{Resolver: dnsServer(t, netip.MustParseAddr("93.184.216.34"))}
	if err := public.CheckResolved(t.Context(), "www.example.com"); err != nil {
		t.Fatalf("a public name: %v", err)
	}
	nowhere := &Policy{Resolver: Offline}
	if err := nowhere.CheckResolved(t.Context(), "www.example.com"); err != nil {
		t.Fatalf("a name that does not resolve now: %v", err)
	}
	if err := private.CheckResolved(t.Context(), "10.0.0.1"); err != nil {
		t.Fatalf("a literal is CheckHost's: %v", err)
	}
}

func TestOddAddress(t *testing.T) {
	for host, want := range map[string]string{
		"127.0.0.1":   "",
		"::1":         "",
		"[::1]":       "",
		"example.com": "",
		"0xdead.com":  "",
		"127.1":       "127.0.0.1",
		"0x7f000001":  "127.0.0.1",
		"2130706433":  "127.0.0.1",
		"0177.0.0.1":  "127.0.0.1",
		"127.0.0.1.":  "127.0.0.1",
		"１２７．０．０．１":   "", // Go's client maps it too
	} {
		got := ""
		if a, odd := OddAddress(host); odd {
			got = a.String()
		}
		if got != want {
			t.Errorf("OddAddress(%q) = %q, want %q", host, got, want)
		}
	}
}
