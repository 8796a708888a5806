package sqlrow

import (
	"slices"
	"strings"
	"unicode/utf8"
)

// StringMapJSON is a map of strings as the JSON object json.Marshal
// writes of it (names in order, invalid UTF-8 as U+FFFD), except that <, >
// and & are kept as they are: it is read back as JSON only. Every outcome
// writes two such maps (an attempt's headers) and every publish one or
// two (webhook to delivery id), and encoding/json's reflection over them
// was a twentieth of the writer's time at full load.
func StringMapJSON(h map[string]string) string {
	if len(h) == 0 {
		return "{}"
	}
	names := make([]string, 0, len(h))
	n := 1
	for k, v := range h {
		names = append(names, k)
		n += len(k) + len(v) + 6
	}
	slices.Sort(names)
	var b strings.Builder
	b.Grow(n)
	b.WriteByte('{')
	for i, k := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSONString(&b, k)
		b.WriteByte(':')
		writeJSONString(&b, h[k])
	}
	b.WriteByte('}')
	return b.String()
}

const hexDigits = "0123456789abcdef"

func writeJSONString(b *strings.Builder, s string) {
	b.WriteByte('"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b.WriteString(s[start:i])
				b.WriteString(`\ufffd`)
				i++
				start = i
				continue
			}
			i += size
			continue
		}
		if c >= 0x20 && c != '"' && c != '\\' {
			i++
			continue
		}
		b.WriteString(s[start:i])
		switch c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteString(`\u00`)
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xf])
		}
		i++
		start = i
	}
	b.WriteString(s[start:])
	b.WriteByte('"')
}
