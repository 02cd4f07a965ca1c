using System.Globalization;
using System.Text;

namespace Inference.Worker.Tokenization.Jinja;

/// <summary>Python's datetime.strftime for the C-locale directives templates use ("%d %b %Y", "%Y-%m-%d", ...).</summary>
internal static class JinjaStrftime
{
    public static string Format(DateTimeOffset time, string format)
    {
        var culture = CultureInfo.InvariantCulture;
        var builder = new StringBuilder();
        for (var i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 >= format.Length)
            {
                builder.Append(format[i]);
                continue;
            }

            var directive = format[++i];
            builder.Append(directive switch
            {
                'd' => time.Day.ToString("00", culture),
                'm' => time.Month.ToString("00", culture),
                'Y' => time.Year.ToString("0000", culture),
                'y' => (time.Year % 100).ToString("00", culture),
                'H' => time.Hour.ToString("00", culture),
                'I' => (time.Hour % 12 == 0 ? 12 : time.Hour % 12).ToString("00", culture),
                'M' => time.Minute.ToString("00", culture),
                'S' => time.Second.ToString("00", culture),
                'f' => (time.Ticks % TimeSpan.TicksPerSecond / 10).ToString("000000", culture),
                'p' => time.Hour < 12 ? "AM" : "PM",
                'b' => time.ToString("MMM", culture),
                'B' => time.ToString("MMMM", culture),
                'a' => time.ToString("ddd", culture),
                'A' => time.ToString("dddd", culture),
                'j' => time.DayOfYear.ToString("000", culture),
                'w' => ((int)time.DayOfWeek).ToString(culture),
                'e' => time.Day.ToString(culture).PadLeft(2),
                'Z' => time.Offset == TimeSpan.Zero ? "UTC" : string.Empty,
                'z' => (time.Offset < TimeSpan.Zero ? "-" : "+") + time.Offset.ToString("hhmm", culture),
                '%' => "%",
                _ => "%" + directive,
            });
        }

        return builder.ToString();
    }
}
