package hookd

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/cost"
)

// Filter is a compiled CEL expression over an event: the variables type
// (string), data (map), metadata (map) and channels (list of strings). A
// webhook with a filter receives an event only where it evaluates to true.
type Filter struct {
	prg cel.Program
}

// filterCostLimit bounds one evaluation so that a filter cannot make
// publishing expensive (a comprehension over a large list, say).
const filterCostLimit = 100_000

var (
	filterEnv   *cel.Env
	filterCache = newBoundedCache[*Filter](4096)
)

func init() {
	env, err := cel.NewEnv(
		cel.Variable("type", cel.StringType),
		cel.Variable("data", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("metadata", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("channels", cel.ListType(cel.StringType)),
		cel.CrossTypeNumericComparisons(true),
	)
	if err != nil {
		panic(fmt.Sprintf("hookd: CEL environment: %v", err))
	}
	filterEnv = env
}

// CompileFilter compiles expr; its error is meant for the client.
func CompileFilter(expr string) (*Filter, error) {
	if f, ok := filterCache.get(expr); ok {
		return f, nil
	}
	if strings.TrimSpace(expr) == "" {
		return nil, errors.New("must not be empty")
	}
	if len(expr) > 4096 {
		return nil, errors.New("must be at most 4096 bytes")
	}
	ast, iss := filterEnv.Compile(expr)
	if iss.Err() != nil {
		return nil, fmt.Errorf("does not compile: %s", strings.TrimSpace(iss.Err().Error()))
	}
	if !ast.OutputType().IsExactType(cel.BoolType) && !ast.OutputType().IsExactType(cel.DynType) {
		return nil, fmt.Errorf("must evaluate to a bool, not %s", ast.OutputType())
	}
	// One whose least cost is past the limit could never finish: refused
	// now, not accepted to match nothing (the size of data is unknown
	// here, so only what the expression alone costs counts).
	if est, err := filterEnv.EstimateCost(ast, unsized{}); err == nil && est.Min > filterCostLimit {
		return nil, fmt.Errorf("costs at least %d to run, past the limit of %d: make it simpler", est.Min, filterCostLimit)
	}
	prg, err := filterEnv.Program(ast, cel.CostLimit(filterCostLimit))
	if err != nil {
		return nil, fmt.Errorf("does not compile: %v", err)
	}
	f := &Filter{prg: prg}
	filterCache.put(expr, f)
	return f, nil
}

// FilterInput is what a filter sees of an event. Data and Metadata are JSON
// decoded with encoding/json (numbers as float64).
type FilterInput struct {
	Type     string
	Data     map[string]any
	Metadata map[string]any
	Channels []string
}

// NewFilterInput is what a webhook's filter sees of ev, whose data and
// metadata (nil when none) are given as published: publish and replay
// both match through it.
func NewFilterInput(ev *Event, data, metadata json.RawMessage) *FilterInput {
	in := &FilterInput{Type: ev.Type, Channels: ev.Channels}
	_ = json.Unmarshal(data, &in.Data)
	if len(metadata) > 0 {
		_ = json.Unmarshal(metadata, &in.Metadata)
	}
	return in
}

// StoredFilterInput is NewFilterInput of a stored event, read from the
// payload it keeps.
func StoredFilterInput(ev *Event) *FilterInput {
	env, err := ev.Envelope()
	if err != nil {
		return &FilterInput{Type: ev.Type, Channels: ev.Channels}
	}
	return NewFilterInput(ev, env.Data, env.Metadata)
}

// Match evaluates the filter. An evaluation error (a missing key, a cost
// overrun, a non-bool result) counts as no match: the event is not
// delivered, as with any false filter.
func (f *Filter) Match(in *FilterInput) (bool, error) {
	md := in.Metadata
	if md == nil {
		md = map[string]any{}
	}
	ch := in.Channels
	if ch == nil {
		ch = []string{}
	}
	data := in.Data
	if data == nil {
		data = map[string]any{}
	}
	out, _, err := f.prg.Eval(map[string]any{
		"type": in.Type, "data": data, "metadata": md, "channels": ch,
	})
	if err != nil {
		return false, err
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("filter returned %T, not bool", out.Value())
	}
	return b, nil
}

// unsized leaves every size and call to CEL's own estimates.
type unsized struct{}

func (unsized) EstimateSize(cost.AstNode) *cost.SizeEstimate { return nil }
func (unsized) EstimateCallCost(string, string, *cost.AstNode, []cost.AstNode) *cost.CallEstimate {
	return nil
}
