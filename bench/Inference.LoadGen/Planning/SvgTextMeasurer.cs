using OxyPlot;

namespace Inference.LoadGen.Planning;

/// <summary>
/// Measures text for OxyPlot's SVG exporter with the standard Helvetica metrics of its PDF context, which are
/// managed code (no native font library). The PDF context measures in points; SVG user units are CSS pixels
/// (96 per inch), so sizes are scaled by 96/72. Unscaled, every label was measured 25% short: the legend was cut
/// off and the right axis title sat on its tick labels. Only measures; it draws nothing.
/// </summary>
internal sealed class SvgTextMeasurer : ClippingRenderContext
{
    private const double PixelsPerPoint = 96.0 / 72.0;

    private readonly PdfRenderContext _pdf = new(100, 100, OxyColors.White);

    public override OxySize MeasureText(string text, string fontFamily, double fontSize, double fontWeight)
    {
        OxySize points = _pdf.MeasureText(text, fontFamily, fontSize, fontWeight);
        return new OxySize(points.Width * PixelsPerPoint, points.Height * PixelsPerPoint);
    }

    public override void DrawLine(
        IList<ScreenPoint> points, OxyColor stroke, double thickness, EdgeRenderingMode edgeRenderingMode, double[] dashArray,
        LineJoin lineJoin) =>
        throw new NotSupportedException("SvgTextMeasurer only measures text.");

    public override void DrawPolygon(
        IList<ScreenPoint> points, OxyColor fill, OxyColor stroke, double thickness, EdgeRenderingMode edgeRenderingMode,
        double[] dashArray, LineJoin lineJoin) =>
        throw new NotSupportedException("SvgTextMeasurer only measures text.");

    public override void DrawText(
        ScreenPoint p, string text, OxyColor fill, string fontFamily, double fontSize, double fontWeight, double rotation,
        HorizontalAlignment horizontalAlignment, VerticalAlignment verticalAlignment, OxySize? maxSize) =>
        throw new NotSupportedException("SvgTextMeasurer only measures text.");

    protected override void ResetClip()
    {
    }

    protected override void SetClip(OxyRect clippingRectangle)
    {
    }
}
