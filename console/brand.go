package console

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Brand is how the console presents itself inside a platform: its name,
// a logo and an accent colour. The zero Brand is hookd's own.
type Brand struct {
	// Name replaces "hookd" in the top bar and the titles.
	Name string
	// LogoURL is an https image shown in the top bar, with Name as its
	// text alternative.
	LogoURL string
	// Accent is a #rrggbb colour for links, buttons and the current page;
	// it must reach 4.5:1 against white, as text on the page and as the
	// background of white button text.
	Accent string
}

const defaultAccent = "#3b4cca"

// Validate checks the brand and fills in hookd's defaults.
func (b *Brand) Validate() error {
	if b.Name == "" {
		b.Name = "hookd"
	}
	if len(b.Name) > 60 || strings.ContainsAny(b.Name, "<>\"'") {
		return errors.New("the console's name must be at most 60 characters, without < > \" '")
	}
	if b.LogoURL != "" {
		u, err := url.Parse(b.LogoURL)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return fmt.Errorf("the console's logo must be an https URL, not %q", b.LogoURL)
		}
	}
	if b.Accent == "" {
		b.Accent = defaultAccent
	}
	c, ok := parseHex(b.Accent)
	if !ok {
		return fmt.Errorf("the console's accent must be a colour such as #3b4cca, not %q", b.Accent)
	}
	if r := contrast(c, [3]float64{1, 1, 1}); r < 4.5 {
		return fmt.Errorf("the console's accent %s has a contrast of %.1f:1 with white; links and white button text need 4.5:1: pick a darker colour", b.Accent, r)
	}
	return nil
}

// logoOrigin is the origin the CSP must let images come from.
func (b *Brand) logoOrigin() string {
	if b.LogoURL == "" {
		return ""
	}
	u, _ := url.Parse(b.LogoURL)
	return u.Scheme + "://" + u.Host
}

func parseHex(s string) ([3]float64, bool) {
	var c [3]float64
	if len(s) != 7 || s[0] != '#' {
		return c, false
	}
	for i := range 3 {
		v, err := strconv.ParseUint(s[1+2*i:3+2*i], 16, 8)
		if err != nil {
			return c, false
		}
		c[i] = float64(v) / 255
	}
	return c, true
}

// contrast is WCAG's contrast ratio of two sRGB colours.
func contrast(a, b [3]float64) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

func luminance(c [3]float64) float64 {
	var l [3]float64
	for i, v := range c {
		if v <= 0.04045 {
			l[i] = v / 12.92
		} else {
			l[i] = math.Pow((v+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*l[0] + 0.7152*l[1] + 0.0722*l[2]
}

// brandCSS serves the accent as the stylesheet's --brand: the CSP allows
// no inline style.
func (s *Server) brandCSS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	fmt.Fprintf(w, ":root { --brand: %s; }\n", s.cfg.Brand.Accent)
}
