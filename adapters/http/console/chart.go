package console

import (
	"fmt"
	"strings"

	"github.com/pink-scheduler/pink/app/query"
	"github.com/pink-scheduler/pink/domain"
)

// chart is a stacked bar chart of runs per hour by state, drawn as inline
// SVG by the dashboard template: no script and no style attribute (the
// colours come from classes in console.css), so the CSP holds.
type chart struct {
	Width, Height int
	// PlotTop and PlotBottom bound the bars vertically.
	PlotTop, PlotBottom int
	Bars                []chartBar
	Ticks               []chartTick
	Max                 int
	Total               int
	Legend              []chartLegend
	// Summary describes the chart for screen readers.
	Summary string
}

type chartBar struct {
	X, Width int
	Label    string
	Segs     []chartSeg
	// Title is the bar's tooltip: the hour and its counts.
	Title string
}

type chartSeg struct {
	Y, Height int
	Class     string
}

type chartTick struct {
	X     int
	Label string
}

type chartLegend struct {
	State domain.RunState
	Class string
	Count int
}

// chartOrder stacks the states bottom-up: outcomes first, then the active
// states on top.
var chartOrder = []domain.RunState{
	domain.RunSucceeded, domain.RunFailed, domain.RunTimedOut, domain.RunLost,
	domain.RunCancelled, domain.RunSkipped, domain.RunRunning, domain.RunAssigned, domain.RunPending,
}

// hourlyChart draws the hourly buckets of the stats.
func hourlyChart(buckets []query.Bucket) chart {
	const (
		width, height = 720, 190
		top, bottom   = 10, 160
		slot          = width / query.StatsHours
		barW          = slot - 6
	)
	ch := chart{Width: width, Height: height, PlotTop: top, PlotBottom: bottom}
	totals := map[domain.RunState]int{}
	for _, b := range buckets {
		ch.Max = max(ch.Max, b.Total)
		ch.Total += b.Total
		for s, n := range b.Counts {
			totals[s] += n
		}
	}
	scale := 1.0
	if ch.Max > 0 {
		scale = float64(bottom-top) / float64(ch.Max)
	}
	for i, b := range buckets {
		x := i*slot + (slot-barW)/2
		bar := chartBar{X: x, Width: barW, Label: b.Start.Format("15:00")}
		var parts []string
		y := bottom
		for _, s := range chartOrder {
			n := b.Counts[s]
			if n == 0 {
				continue
			}
			parts = append(parts, fmt.Sprintf("%d %s", n, strings.ReplaceAll(string(s), "_", " ")))
			h := max(int(float64(n)*scale+0.5), 1)
			y -= h
			bar.Segs = append(bar.Segs, chartSeg{Y: y, Height: h, Class: "s-" + strings.ReplaceAll(string(s), "_", "-")})
		}
		if len(parts) == 0 {
			parts = []string{"no runs"}
		}
		bar.Title = fmt.Sprintf("%s–%s: %s", b.Start.Format("15:04"), b.End.Format("15:04"), strings.Join(parts, ", "))
		ch.Bars = append(ch.Bars, bar)
		if i%3 == 0 {
			ch.Ticks = append(ch.Ticks, chartTick{X: x + barW/2, Label: bar.Label})
		}
	}
	var sum []string
	for _, s := range chartOrder {
		ch.Legend = append(ch.Legend, chartLegend{State: s, Class: "s-" + strings.ReplaceAll(string(s), "_", "-"), Count: totals[s]})
		if totals[s] > 0 {
			sum = append(sum, fmt.Sprintf("%d %s", totals[s], strings.ReplaceAll(string(s), "_", " ")))
		}
	}
	if len(sum) == 0 {
		ch.Summary = "No runs in the last 24 hours."
	} else {
		ch.Summary = fmt.Sprintf("Runs in the last 24 hours by state: %s.", strings.Join(sum, ", "))
	}
	return ch
}
