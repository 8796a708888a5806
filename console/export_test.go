package console

import (
	"net/url"

	"github.com/hookd/hookd"
)

// MergeStale is mergeStale of a form posted over orig, with cur the
// webhook as another edit left it.
func MergeStale(posted url.Values, orig, cur *hookd.Webhook) (*webhookForm, []string) {
	return mergeStale(parseForm(posted), formOf(orig), formOf(cur))
}

// VolumeChartClasses are the classes of the segments volumeChart stacks
// for buckets.
func VolumeChartClasses(buckets []*hookd.SeriesBucket) []string {
	var out []string
	for _, b := range volumeChart(buckets).Bars {
		for _, s := range b.Segments {
			out = append(out, s.Class)
		}
	}
	return out
}
