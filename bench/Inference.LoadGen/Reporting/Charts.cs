using OxyPlot;
using OxyPlot.Axes;
using OxyPlot.Legends;
using OxyPlot.Series;

namespace Inference.LoadGen.Reporting;

/// <summary>SVG charts for the reports, drawn with OxyPlot's own SVG exporter (managed code only).</summary>
public static class Charts
{
    private static readonly OxyColor[] Palette =
    [
        OxyColor.FromRgb(0x1f, 0x77, 0xb4), OxyColor.FromRgb(0xff, 0x7f, 0x0e), OxyColor.FromRgb(0x2c, 0xa0, 0x2c),
        OxyColor.FromRgb(0xd6, 0x27, 0x28), OxyColor.FromRgb(0x94, 0x67, 0xbd), OxyColor.FromRgb(0x8c, 0x56, 0x4b),
    ];

    /// <summary>Points of several named series as markers (e.g. latency of each request against its send time).</summary>
    public static string Scatter(string title, string xTitle, string yTitle, IReadOnlyList<(string Name, IReadOnlyList<(double X, double Y)> Points)> series)
    {
        ArgumentNullException.ThrowIfNull(series);
        PlotModel model = Model(title, xTitle, yTitle);
        for (int i = 0; i < series.Count; i++)
        {
            var s = new ScatterSeries
            {
                Title = series[i].Name,
                MarkerType = MarkerType.Circle,
                MarkerSize = 2.5,
                MarkerFill = Palette[i % Palette.Length],
            };
            foreach ((double x, double y) in series[i].Points)
            {
                s.Points.Add(new ScatterPoint(x, y));
            }

            model.Series.Add(s);
        }

        return Export(model);
    }

    /// <summary>Lines through points of several named series (e.g. p95 latency against throughput per setting).</summary>
    public static string Lines(string title, string xTitle, string yTitle, IReadOnlyList<(string Name, IReadOnlyList<(double X, double Y)> Points)> series, double? horizontalLimit = null, string? limitLabel = null)
    {
        ArgumentNullException.ThrowIfNull(series);
        PlotModel model = Model(title, xTitle, yTitle);
        for (int i = 0; i < series.Count; i++)
        {
            var s = new LineSeries
            {
                Title = series[i].Name,
                Color = Palette[i % Palette.Length],
                MarkerType = MarkerType.Circle,
                MarkerSize = 3,
                MarkerFill = Palette[i % Palette.Length],
            };
            foreach ((double x, double y) in series[i].Points)
            {
                s.Points.Add(new DataPoint(x, y));
            }

            model.Series.Add(s);
        }

        if (horizontalLimit is { } limit)
        {
            model.Annotations.Add(new OxyPlot.Annotations.LineAnnotation
            {
                Type = OxyPlot.Annotations.LineAnnotationType.Horizontal,
                Y = limit,
                Color = OxyColors.Red,
                LineStyle = LineStyle.Dash,
                Text = limitLabel ?? string.Empty,
            });
        }

        return Export(model);
    }

    /// <summary>Distribution of values as a histogram of <paramref name="bins"/> equal bins between the 0th and the
    /// 99.5th percentile (the rare long tail would squeeze the rest into one bar); bar heights in percent of all values.</summary>
    public static string Histogram(string title, string xTitle, IReadOnlyList<double> values, int bins = 40)
    {
        ArgumentNullException.ThrowIfNull(values);
        PlotModel model = Model(title, xTitle, "% of values");
        var sorted = values.ToArray();
        Array.Sort(sorted);
        if (sorted.Length > 0)
        {
            double low = sorted[0];
            double high = Serving.LatencyStats.Percentile(sorted, 99.5);
            if (high <= low)
            {
                high = low + 1e-9;
            }

            double width = (high - low) / bins;
            var counts = new int[bins];
            foreach (double v in sorted)
            {
                counts[Math.Clamp((int)((v - low) / width), 0, bins - 1)]++;
            }

            var series = new HistogramSeries { FillColor = Palette[0], StrokeColor = OxyColors.White, StrokeThickness = 0.5 };
            for (int b = 0; b < bins; b++)
            {
                double percent = counts[b] * 100.0 / sorted.Length;
                series.Items.Add(new HistogramItem(low + b * width, low + (b + 1) * width, percent * width, counts[b]));
            }

            model.Series.Add(series);
        }

        return Export(model);
    }

    /// <summary>Bars per category for several named series (e.g. GPUs per growth phase).</summary>
    public static string Bars(string title, string yTitle, IReadOnlyList<string> categories, IReadOnlyList<(string Name, IReadOnlyList<double> Values)> series)
    {
        ArgumentNullException.ThrowIfNull(categories);
        ArgumentNullException.ThrowIfNull(series);
        var model = new PlotModel { Title = title, Background = OxyColors.White };
        model.Legends.Add(new Legend { LegendPosition = LegendPosition.TopLeft, LegendPlacement = LegendPlacement.Inside });
        var categoryAxis = new CategoryAxis { Position = AxisPosition.Left };
        foreach (string c in categories)
        {
            categoryAxis.Labels.Add(c);
        }

        model.Axes.Add(categoryAxis);
        model.Axes.Add(new LinearAxis { Position = AxisPosition.Bottom, Title = yTitle, MinimumPadding = 0, AbsoluteMinimum = 0, MajorGridlineStyle = LineStyle.Dot });
        for (int i = 0; i < series.Count; i++)
        {
            var bar = new BarSeries { Title = series[i].Name, FillColor = Palette[i % Palette.Length], LabelFormatString = "{0:0.#}" };
            foreach (double v in series[i].Values)
            {
                bar.Items.Add(new BarItem(v));
            }

            model.Series.Add(bar);
        }

        return Export(model);
    }

    private static PlotModel Model(string title, string xTitle, string yTitle)
    {
        var model = new PlotModel { Title = title, Background = OxyColors.White };
        model.Legends.Add(new Legend { LegendPosition = LegendPosition.TopRight, LegendPlacement = LegendPlacement.Inside });
        model.Axes.Add(new LinearAxis { Position = AxisPosition.Bottom, Title = xTitle, MajorGridlineStyle = LineStyle.Dot });
        model.Axes.Add(new LinearAxis { Position = AxisPosition.Left, Title = yTitle, MinimumPadding = 0, AbsoluteMinimum = 0, MajorGridlineStyle = LineStyle.Dot });
        return model;
    }

    private static string Export(PlotModel model)
    {
        var exporter = new SvgExporter { Width = 900, Height = 420 };
        using var stream = new MemoryStream();
        exporter.Export(model, stream);
        return System.Text.Encoding.UTF8.GetString(stream.ToArray()).TrimStart('\uFEFF'); // the exporter writes a byte-order mark
    }
}
