using OxyPlot;
using OxyPlot.Annotations;
using OxyPlot.Axes;
using OxyPlot.Legends;
using OxyPlot.Series;

namespace Inference.LoadGen.Planning;

/// <summary>
/// GPUs (left axis) and monthly cost (right axis) per phase as paired, labelled bars, with the budget as a dashed line;
/// SVG through OxyPlot's exporter. Paired bars rather than bars and a line: cost grows with GPUs, so a line over the
/// bars ran along their tops and hid their labels. Rectangle bars because OxyPlot's BarSeries stacks series that use
/// different value axes on top of each other instead of side by side.
/// </summary>
internal static class PlanChart
{
    private const double Width = 900;
    private const double Height = 500;

    // Each phase spans [i - 0.5, i + 0.5] on the category axis: GPUs on the left half, cost on the right.
    private const double BarWidth = 0.37;
    private const double BarGap = 0.01;

    private static readonly OxyColor GpuColor = OxyColor.FromRgb(0x4C, 0x78, 0xA8);
    private static readonly OxyColor CostColor = OxyColor.FromRgb(0xE4, 0x57, 0x56);

    /// <summary>The chart as a standalone SVG document.</summary>
    public static string ToSvg(PlanResult result) =>
        SvgExporter.ExportToString(Build(result), Width, Height, isDocument: true, textMeasurer: new SvgTextMeasurer());

    private static PlotModel Build(PlanResult result)
    {
        PlanInputs inputs = result.Inputs;
        var model = new PlotModel
        {
            Title = $"{inputs.Title}: GPUs and monthly cost per phase",
            Subtitle = $"{inputs.GpuName}; {PlanFormat.Rate(result.Conversion.PlannedRequestRatePerGpu)} req/s per GPU planned; "
                + $"peak factor {PlanFormat.Number(inputs.PeakFactor)}",
            DefaultFont = "Helvetica, Arial, sans-serif",
            Background = OxyColors.White,
            // Room above the title for viewers that ignore dominant-baseline (librsvg drew it half off the top).
            Padding = new OxyThickness(8, 16, 8, 8),
        };
        model.Legends.Add(new Legend
        {
            LegendPlacement = LegendPlacement.Outside,
            LegendPosition = LegendPosition.BottomCenter,
            LegendOrientation = LegendOrientation.Horizontal,
        });

        var phases = new CategoryAxis { Position = AxisPosition.Bottom, Key = "phase", Title = "Phase (concurrent users)" };
        foreach (PhasePlan phase in result.Phases)
        {
            string users = PlanFormat.Whole(phase.Phase.ConcurrentUsers);
            phases.Labels.Add(phase.Phase.Name.Contains(users, StringComparison.Ordinal) ? phase.Phase.Name : $"{phase.Phase.Name} ({users})");
        }

        model.Axes.Add(phases);
        model.Axes.Add(new LinearAxis
        {
            Position = AxisPosition.Left,
            Key = "gpus",
            Title = "GPUs",
            Minimum = 0,
            MaximumPadding = 0.12,
            MajorGridlineStyle = LineStyle.Dot,
            StringFormat = "#,0",
        });
        model.Axes.Add(new LinearAxis
        {
            Position = AxisPosition.Right,
            Key = "cost",
            Title = $"Monthly cost ({inputs.Currency})",
            Minimum = 0,
            MaximumPadding = 0.12,
            StringFormat = "#,0",
        });

        var gpus = new RectangleBarSeries { Title = "GPUs", XAxisKey = "phase", YAxisKey = "gpus", FillColor = GpuColor, StrokeThickness = 0 };
        var cost = new RectangleBarSeries
        {
            Title = $"Monthly cost ({inputs.Currency})",
            XAxisKey = "phase",
            YAxisKey = "cost",
            FillColor = CostColor,
            StrokeThickness = 0,
        };
        for (int i = 0; i < result.Phases.Count; i++)
        {
            PhasePlan phase = result.Phases[i];
            gpus.Items.Add(new RectangleBarItem(i - BarGap - BarWidth, 0, i - BarGap, phase.Gpus));
            cost.Items.Add(new RectangleBarItem(i + BarGap, 0, i + BarGap + BarWidth, phase.TotalCostPerMonth));
            model.Annotations.Add(Label(PlanFormat.Whole(phase.Gpus), i - BarGap - (BarWidth / 2), phase.Gpus, "gpus"));
            model.Annotations.Add(Label(PlanFormat.Whole(phase.TotalCostPerMonth), i + BarGap + (BarWidth / 2), phase.TotalCostPerMonth, "cost"));
        }

        model.Series.Add(gpus);
        model.Series.Add(cost);

        if (inputs.MonthlyBudget is { } budget)
        {
            model.Annotations.Add(new LineAnnotation
            {
                Type = LineAnnotationType.Horizontal,
                Y = budget,
                XAxisKey = "phase",
                YAxisKey = "cost",
                Color = OxyColors.DimGray,
                LineStyle = LineStyle.Dash,
                Text = $"budget {PlanFormat.Money(budget)} {inputs.Currency}/month",
                TextHorizontalAlignment = HorizontalAlignment.Left,
                TextPosition = new DataPoint(-0.5, budget),
            });
        }

        return model;
    }

    private static TextAnnotation Label(string text, double x, double y, string valueAxis) => new()
    {
        Text = text,
        TextPosition = new DataPoint(x, y),
        XAxisKey = "phase",
        YAxisKey = valueAxis,
        TextVerticalAlignment = VerticalAlignment.Bottom,
        Stroke = OxyColors.Transparent,
        Padding = new OxyThickness(0, 0, 0, 2),
    };
}
