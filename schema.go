package hookd

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// Schema is a compiled JSON Schema (2020-12 unless the document says
// otherwise) that an event type's data must satisfy.
type Schema struct{ s *jsonschema.Schema }

// noLoader refuses every $ref outside the document: a schema posted to the
// API must not make hookd read files or reach the network.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("external reference %s is not allowed", url)
}

var schemaCache = newBoundedCache[*Schema](1024)

// CompileSchema compiles raw, a JSON Schema document. Compiled schemas are
// cached by their text, so publishing does not compile per event.
func CompileSchema(raw []byte) (*Schema, error) {
	if s, ok := schemaCache.get(string(raw)); ok {
		return s, nil
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, errors.New("is not valid JSON")
	}
	switch doc.(type) {
	case map[string]any, bool:
	default:
		return nil, errors.New("must be a JSON Schema object")
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(noLoader{})
	const loc = "urn:hookd:event-type-schema"
	if err := c.AddResource(loc, doc); err != nil {
		return nil, fmt.Errorf("is not a valid JSON Schema: %v", err)
	}
	compiled, err := c.Compile(loc)
	var sve *jsonschema.SchemaValidationError
	var mve *jsonschema.ValidationError
	switch {
	case errors.As(err, &sve) && errors.As(sve.Err, &mve):
		// Where in the schema, and what: the library's own first line
		// names only the metaschema.
		var where []string
		leaves(mve, func(at []string, msg string) bool {
			where = append(where, "/"+strings.Join(at, "/")+": "+msg)
			return len(where) < 3
		})
		return nil, fmt.Errorf("is not a valid JSON Schema: %s", strings.Join(where, "; "))
	case err != nil:
		return nil, fmt.Errorf("is not a valid JSON Schema: %s", strings.TrimPrefix(firstLine(err.Error()), `"`+loc+`#" `))
	}
	// A schema that refers to itself with nothing in between ({"$ref":
	// "#"}) compiles, but no data can be checked against it: refused here,
	// not at every publish as if the data were wrong.
	var ve *jsonschema.ValidationError
	if err := compiled.Validate(map[string]any{}); errors.As(err, &ve) && refCycle(ve) {
		return nil, errors.New("refers to itself in a cycle ($ref), so no data can be checked against it")
	}
	s := &Schema{s: compiled}
	schemaCache.put(string(raw), s)
	return s, nil
}

// Validate checks data (a JSON document) and returns a *ValidationError
// with one detail per violation, each naming the field under "data".
func (s *Schema) Validate(data []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return Invalid("data", "is not valid JSON")
	}
	err = s.s.Validate(inst)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return Invalid("data", "%v", err)
	}
	v := &ValidationError{}
	leaves(ve, func(at []string, msg string) bool {
		field := "data"
		for _, p := range at {
			field += "." + p
		}
		v.Add(field, "%s", msg)
		return len(v.Details) < 20
	})
	if len(v.Details) == 0 {
		v.Add("data", "does not match the event type's schema")
	}
	return v
}

// leaves calls add with each leaf of the tree of causes under ve (what
// failed, where in the instance), until add says stop. (The library's
// flat "basic output" gives one through a $ref only as "validation
// failed".)
func leaves(ve *jsonschema.ValidationError, add func(at []string, msg string) bool) {
	more := true
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if !more {
			return
		}
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		if e == ve {
			return
		}
		msg := e.Error() // at '/a/b': got string, want integer
		if rest, ok := strings.CutPrefix(msg, "at '"); ok {
			if _, m, ok := strings.Cut(rest, "': "); ok {
				msg = m
			}
		}
		more = add(e.InstanceLocation, msg)
	}
	walk(ve)
}

// refCycle says whether a reference cycle is among ve's causes.
func refCycle(ve *jsonschema.ValidationError) bool {
	if _, ok := ve.ErrorKind.(*kind.RefCycle); ok {
		return true
	}
	return slices.ContainsFunc(ve.Causes, refCycle)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// boundedCache is a concurrent map that forgets everything when full: the
// values are pure functions of their keys, so losing them only costs a
// recompile, and there is no eviction bookkeeping on the hot path.
type boundedCache[V any] struct {
	mu  sync.RWMutex
	max int
	m   map[string]V
}

func newBoundedCache[V any](max int) *boundedCache[V] {
	return &boundedCache[V]{max: max, m: make(map[string]V)}
}

func (c *boundedCache[V]) get(k string) (V, bool) {
	c.mu.RLock()
	v, ok := c.m[k]
	c.mu.RUnlock()
	return v, ok
}

func (c *boundedCache[V]) put(k string, v V) {
	c.mu.Lock()
	if len(c.m) >= c.max {
		c.m = make(map[string]V)
	}
	c.m[k] = v
	c.mu.Unlock()
}
