package main

import (
	"fmt"
	"image/color"
	"os"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

var (
	colorDirect  = color.RGBA{R: 150, G: 150, B: 150, A: 255}
	colorAigate  = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	colorPortkey = color.RGBA{R: 255, G: 127, B: 14, A: 255}
)

type series struct {
	name   string
	color  color.Color
	values []float64
	labels []string
}

// WriteChart draws three panels side by side: added p50 latency, added p99
// latency (both over the upstream alone) and throughput, per concurrency.
func WriteChart(path string, levels []Level, subtitle string) error {
	var conc []string
	var aP50, pP50, aP99, pP99, dT, aT, pT []float64
	for _, l := range levels {
		conc = append(conc, fmt.Sprintf("concurrency %d", l.Concurrency))
		aP50 = append(aP50, msec(Added(l.Aigate, l.Direct, 0.5)))
		pP50 = append(pP50, msec(Added(l.Portkey, l.Direct, 0.5)))
		aP99 = append(aP99, msec(Added(l.Aigate, l.Direct, 0.99)))
		pP99 = append(pP99, msec(Added(l.Portkey, l.Direct, 0.99)))
		dT = append(dT, l.Direct.Throughput())
		aT = append(aT, l.Aigate.Throughput())
		pT = append(pT, l.Portkey.Throughput())
	}
	latLabels := func(v []float64) []string {
		var s []string
		for _, x := range v {
			s = append(s, fmtDur(time.Duration(x*float64(time.Millisecond))))
		}
		return s
	}
	rateLabels := func(v []float64) []string {
		var s []string
		for _, x := range v {
			s = append(s, fmtRate(x))
		}
		return s
	}
	panels := []*plot.Plot{}
	for _, spec := range []struct {
		title, y string
		series   []series
	}{
		{"Added latency p50 (lower is better)", "ms over the upstream alone", []series{
			{"aigate", colorAigate, aP50, latLabels(aP50)}, {"Portkey", colorPortkey, pP50, latLabels(pP50)}}},
		{"Added latency p99 (lower is better)", "ms over the upstream alone", []series{
			{"aigate", colorAigate, aP99, latLabels(aP99)}, {"Portkey", colorPortkey, pP99, latLabels(pP99)}}},
		{"Throughput (higher is better)", "requests per second", []series{
			{"upstream alone", colorDirect, dT, rateLabels(dT)},
			{"aigate", colorAigate, aT, rateLabels(aT)}, {"Portkey", colorPortkey, pT, rateLabels(pT)}}},
	} {
		p, err := barPanel(spec.title, spec.y, conc, spec.series)
		if err != nil {
			return err
		}
		panels = append(panels, p)
	}

	const w, h = 16 * vg.Inch, 5.6 * vg.Inch
	img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(96))
	dc := draw.New(img)
	// A title band over the three panels.
	title := plot.New()
	title.HideAxes()
	title.Title.Text = "aigate vs Portkey: chat completion to an instant upstream on 127.0.0.1\n" + subtitle
	title.Title.TextStyle.Font.Size = vg.Points(15)
	top := draw.Crop(dc, 0, 0, h-0.8*vg.Inch, 0)
	title.Draw(top)
	body := draw.Crop(dc, 0, 0, 0, -0.8*vg.Inch)
	tiles := draw.Tiles{Rows: 1, Cols: len(panels), PadX: vg.Points(18), PadTop: vg.Points(6), PadBottom: vg.Points(6), PadLeft: vg.Points(6), PadRight: vg.Points(10)}
	canvases := plot.Align([][]*plot.Plot{panels}, tiles, body)
	for i, p := range panels {
		p.Draw(canvases[0][i])
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func msec(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// barPanel is one grouped bar chart with a value over each bar.
func barPanel(title, ylabel string, groups []string, ss []series) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(13)
	p.Y.Label.Text = ylabel
	p.Y.Min = 0
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	barWidth := vg.Points(30)
	ymax := 0.0
	for i, s := range ss {
		bars, err := plotter.NewBarChart(plotter.Values(s.values), barWidth)
		if err != nil {
			return nil, err
		}
		bars.Color = s.color
		bars.LineStyle.Width = 0
		bars.Offset = vg.Length(float64(i)-float64(len(ss)-1)/2) * barWidth
		p.Add(bars)
		p.Legend.Add(s.name, bars)

		xy := make(plotter.XYs, len(s.values))
		styles := make([]text.Style, len(s.values))
		for j, v := range s.values {
			xy[j] = plotter.XY{X: float64(j), Y: v}
			ymax = max(ymax, v)
			styles[j] = text.Style{Color: color.Black, Font: p.Y.Label.TextStyle.Font, XAlign: draw.XCenter, YAlign: draw.YBottom, Handler: p.Y.Label.TextStyle.Handler}
			styles[j].Font.Size = vg.Points(9)
		}
		labels, err := plotter.NewLabels(plotter.XYLabels{XYs: xy, Labels: s.labels})
		if err != nil {
			return nil, err
		}
		labels.TextStyle = styles
		labels.Offset = vg.Point{X: bars.Offset, Y: vg.Points(2)}
		p.Add(labels)
	}
	// Room for the legend and the labels over the tallest bar.
	p.Y.Max = ymax * 1.3
	p.NominalX(groups...)
	return p, nil
}
