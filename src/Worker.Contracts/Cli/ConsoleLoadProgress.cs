using System.Globalization;
using Inference.Worker.Loading;

namespace Inference.Worker.Cli;

/// <summary>Weight-loading progress on stderr, at most one line per 10 % (or per tensor on a terminal).</summary>
internal sealed class ConsoleLoadProgress : IProgress<LoadProgress>
{
    private int _lastDecile = -1;

    public void Report(LoadProgress value)
    {
        if (value.TotalBytes <= 0)
        {
            return;
        }

        double fraction = (double)value.BytesRead / value.TotalBytes;
        int decile = (int)(fraction * 10);
        if (Console.IsErrorRedirected && decile == _lastDecile)
        {
            return;
        }

        _lastDecile = decile;
        string line = string.Create(
            CultureInfo.InvariantCulture,
            $"Loading weights: {fraction * 100,5:F1}% ({value.BytesRead / 1e6:F1}/{value.TotalBytes / 1e6:F1} MB, {value.TensorsRead}/{value.TotalTensors} tensors)");
        if (Console.IsErrorRedirected)
        {
            Console.Error.WriteLine(line);
        }
        else
        {
            Console.Error.Write("\r" + line + (value.TensorsRead == value.TotalTensors ? Environment.NewLine : string.Empty));
        }
    }
}
