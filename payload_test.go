package hookd

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// encodedPayload is the envelope as encoding/json writes it (HTML left
// unescaped): what BuildPayload's bytes must equal.
func encodedPayload(t testing.TB, e *Event, data, metadata json.RawMessage) []byte {
	var cd, cm bytes.Buffer
	if err := json.Compact(&cd, data); err != nil {
		t.Fatal(err)
	}
	env := Envelope{ID: e.ID, Type: e.Type, Timestamp: e.Timestamp, Data: cd.Bytes()}
	if len(metadata) > 0 {
		if err := json.Compact(&cm, metadata); err != nil {
			t.Fatal(err)
		}
		env.Metadata = cm.Bytes()
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(env); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// BuildPayload writes the same bytes encoding/json would, for ids, types
// and times of every kind and data with spacing, HTML and unicode.
func TestBuildPayloadBytes(t *testing.T) {
	times := []time.Time{time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))}
	ids := []string{"evt_01", "a.b-c_D", `q"uote\\back`, "ctl\x01\n\t", "uni é \u2028 \u2029 <&>", "bad\xffutf8"}
	datas := []string{`{}`, `{ "a" : [1, 2, {"b":"<&>"}], "s": "é\u2028" }`, "{\n\t\"n\": null\n}"}
	for _, ts := range times {
		for _, id := range ids {
			for _, d := range datas {
				for _, md := range []string{"", `{"k": "v"}`} {
					e := &Event{ID: id, Type: "a.b", Timestamp: ts}
					var meta json.RawMessage
					if md != "" {
						meta = json.RawMessage(md)
					}
					if err := e.BuildPayload(json.RawMessage(d), meta); err != nil {
						t.Fatal(err)
					}
					if want := encodedPayload(t, e, json.RawMessage(d), meta); !bytes.Equal(e.Payload, want) {
						t.Fatalf("id %q data %q:\n got %s\nwant %s", id, d, e.Payload, want)
					}
				}
			}
		}
	}
	if err := (&Event{}).BuildPayload(json.RawMessage(`{"a":`), nil); err == nil {
		t.Fatal("invalid data built a payload")
	}
	// Metadata appears only when the event has some: an empty object, however
	// spaced, is none.
	for _, md := range []string{`{}`, "{ \n }"} {
		e := &Event{ID: "evt_1", Type: "a.b", Timestamp: times[0]}
		if err := e.BuildPayload(json.RawMessage(`{"m":{}}`), json.RawMessage(md)); err != nil {
			t.Fatal(err)
		}
		if want := encodedPayload(t, e, json.RawMessage(`{"m":{}}`), nil); !bytes.Equal(e.Payload, want) {
			t.Fatalf("metadata %q:\n got %s\nwant %s", md, e.Payload, want)
		}
	}
}

// A verbatim payload keeps its data's bytes but for the whitespace around
// them; a raw-mode body is exactly those bytes; invalid data builds none.
func TestBuildVerbatimPayload(t *testing.T) {
	data := "\n {\"b\":1,   \"a\":[1, 2],\n\"s\":\"\\u00e9\"} \n"
	e := &Event{ID: "evt_1", Type: "a.b", Timestamp: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	if err := e.BuildVerbatimPayload(json.RawMessage(data), nil); err != nil {
		t.Fatal(err)
	}
	env, err := e.Envelope()
	if err != nil {
		t.Fatalf("the payload is not JSON: %v (%s)", err, e.Payload)
	}
	if env.ID != "evt_1" || env.Type != "a.b" {
		t.Fatalf("envelope %+v", env)
	}
	if got := (&Webhook{BodyMode: BodyRaw}).Body(e.Payload); string(got) != strings.TrimSpace(data) {
		t.Fatalf("raw body %q, want %q", got, strings.TrimSpace(data))
	}
	if err := (&Event{}).BuildVerbatimPayload(json.RawMessage(`{"a":`), nil); err == nil {
		t.Fatal("invalid data built a payload")
	}
}

func BenchmarkBuildPayload(b *testing.B) {
	data := json.RawMessage(`{"invocationId":"inv_1","status":"ok","pad":"` + strings.Repeat("x", 1000) + `"}`)
	e := &Event{ID: "evt_01m8q0pn6njxexm32s0aqmw6x4", Type: "invocation.completed", Timestamp: time.Now().UTC()}
	b.ReportAllocs()
	for b.Loop() {
		if err := e.BuildPayload(data, nil); err != nil {
			b.Fatal(err)
		}
	}
}
