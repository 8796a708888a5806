package console

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hookd/hookd"
)

// windows are the statistics page's periods: a bar an hour over a day, a
// bar a day (UTC) past two days, so that a week is 7 bars, not 168.
var windows = map[string]struct {
	buckets int
	step    time.Duration
}{"24h": {24, time.Hour}, "7d": {7, 24 * time.Hour}}

func (s *Server) statsPage(w http.ResponseWriter, r *http.Request, v *visit) error {
	window := r.URL.Query().Get("window")
	win, ok := windows[window]
	if !ok {
		window, win = "24h", windows["24h"]
	}
	now := s.clock.Now()
	q := hookd.SeriesQuery{TenantID: v.tenant.ID, Step: win.step, Buckets: win.buckets,
		Since: now.Truncate(win.step).Add(-time.Duration(win.buckets-1) * win.step)}
	hooks, _, err := s.store.ListWebhooks(r.Context(), hookd.WebhookQuery{TenantID: v.tenant.ID, Page: hookd.Page{Limit: 250}})
	if err != nil {
		return err
	}
	if id := r.URL.Query().Get("webhook"); id != "" {
		if _, err := s.store.GetWebhook(r.Context(), v.tenant.ID, id); err != nil {
			return notFound("There is no webhook " + id + " in " + sentence(v.tenant.Name))
		}
		q.WebhookID = id
	}
	buckets, err := s.store.StatsSeries(r.Context(), q)
	if err != nil {
		return err
	}
	st, err := s.store.Stats(r.Context(), hookd.StatsQuery{TenantID: v.tenant.ID, WebhookID: q.WebhookID, Since: q.Since})
	if err != nil {
		return err
	}
	var all hookd.LatencyHistogram
	for _, b := range buckets {
		all.Add(&b.Latency)
	}
	s.render(w, r, v, http.StatusOK, "stats", "Statistics", map[string]any{
		"Window": window, "Webhooks": hooks, "WebhookID": q.WebhookID, "Stats": st, "Since": q.Since,
		"P50": all.Quantile(0.5), "P95": all.Quantile(0.95), "P99": all.Quantile(0.99),
		"Volume": volumeChart(buckets), "Latency": latencyChart(buckets), "Per": map[bool]string{true: "day", false: "hour"}[win.step > time.Hour],
	})
	return nil
}

// Chart geometry: a plot area inside margins for the axes' labels.
const (
	chartW, chartH   = 760, 240
	marginL, marginR = 56, 12
	marginT, marginB = 12, 30
	plotW, plotH     = chartW - marginL - marginR, chartH - marginT - marginB
)

type tick struct {
	At    float64
	Label string
}

type segment struct {
	Y, H  float64
	Class string
	Title string
}

type bar struct {
	X, W     float64
	Segments []segment
}

type line struct {
	Name, Class, Points string
	Dots                []point // so that a lone hour shows too
}

type point struct{ X, Y float64 }

type chart struct {
	W, H, PlotL, PlotR, PlotT, PlotB int
	YTicks, XTicks                   []tick
	Bars                             []bar
	Lines                            []line
	Empty                            bool
}

func newChart(buckets []*hookd.SeriesBucket) *chart {
	c := &chart{W: chartW, H: chartH, PlotL: marginL, PlotR: chartW - marginR, PlotT: marginT, PlotB: chartH - marginB}
	every, daily := 3, len(buckets) > 1 && buckets[1].Start.Sub(buckets[0].Start) >= 24*time.Hour // a label every 3 hours, or every day
	if daily {
		every = 1
	}
	for i, b := range buckets {
		if i%every != 0 {
			continue
		}
		label := b.Start.UTC().Format("15:04")
		if daily {
			label = b.Start.UTC().Format("Jan 2")
		}
		c.XTicks = append(c.XTicks, tick{At: marginL + (float64(i)+0.5)*plotW/float64(len(buckets)), Label: label})
	}
	return c
}

// niceMax rounds a chart's top up to 1, 2, 4 or 8 times a power of ten, so
// that its quarters (the grid lines) read as round numbers.
func niceMax(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := 1.0
	for p*10 <= v {
		p *= 10
	}
	for _, m := range []float64{1, 2, 4, 8, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func yTicks(top float64, format func(float64) string) []tick {
	var out []tick
	for i := 0; i <= 4; i++ {
		val := top * float64(i) / 4
		out = append(out, tick{At: marginT + plotH - val/top*plotH, Label: format(val)})
	}
	return out
}

// volumeChart stacks each hour's deliveries by status.
func volumeChart(buckets []*hookd.SeriesBucket) *chart {
	c := newChart(buckets)
	most := 0
	for _, b := range buckets {
		n := 0
		for _, k := range b.ByStatus {
			n += k
		}
		most = max(most, n)
	}
	c.Empty = most == 0
	top := max(niceMax(float64(most)), 4) // counts: whole numbers on the axis
	c.YTicks = yTicks(top, func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) })
	slot := float64(plotW) / float64(len(buckets))
	order := []hookd.DeliveryStatus{hookd.StatusSuccess, hookd.StatusFailed, hookd.StatusCanceled, hookd.StatusRetrying, hookd.StatusPending}
	for i, b := range buckets {
		br := bar{X: marginL + float64(i)*slot + slot*0.1, W: slot * 0.8}
		y := float64(marginT + plotH)
		for _, st := range order {
			n := b.ByStatus[st]
			if n == 0 {
				continue
			}
			h := float64(n) / top * plotH
			y -= h
			br.Segments = append(br.Segments, segment{Y: y, H: h, Class: "status-" + strings.ToLower(string(st)),
				Title: fmt.Sprintf("%s: %s %s", b.Start.UTC().Format("Jan 2 15:04"), plural(n, "delivery", "deliveries"), st)})
		}
		c.Bars = append(c.Bars, br)
	}
	return c
}

// latencyChart draws each hour's p50, p95 and p99 response times.
func latencyChart(buckets []*hookd.SeriesBucket) *chart {
	c := newChart(buckets)
	qs := []struct {
		name string
		q    float64
	}{{"p50", 0.5}, {"p95", 0.95}, {"p99", 0.99}}
	values := make([][]float64, len(qs))
	most := 0.0
	for i, q := range qs {
		for _, b := range buckets {
			ms := -1.0 // no answer that hour: a gap
			if b.Latency.Count() > 0 {
				ms = float64(b.Latency.Quantile(q.q)) / float64(time.Millisecond)
				most = max(most, ms)
			}
			values[i] = append(values[i], ms)
		}
	}
	c.Empty = most == 0
	top := niceMax(most)
	c.YTicks = yTicks(top, func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) + " ms" })
	slot := float64(plotW) / float64(len(buckets))
	for i, q := range qs {
		l := line{Name: q.name, Class: "line-" + q.name}
		var pts []string
		for j, ms := range values[i] {
			if ms < 0 {
				continue
			}
			p := point{marginL + (float64(j)+0.5)*slot, marginT + plotH - ms/top*plotH}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", p.X, p.Y))
			l.Dots = append(l.Dots, p)
		}
		l.Points = strings.Join(pts, " ")
		c.Lines = append(c.Lines, l)
	}
	return c
}
