using System.Text.Json;

namespace Inference.LoadGen.Sweeping;

/// <summary>
/// A sweep's finished runs on disk: sweep-config.json holds the options that decide what a run measures, and
/// results.jsonl one line per finished run, appended and flushed as each ends, so a sweep stopped at any moment
/// loses at most the run in progress. A truncated last line (a kill mid-write) is dropped on resume.
/// </summary>
internal sealed class SweepState
{
    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
    private readonly string _resultsPath;
    private readonly List<SweepPoint> _points;

    private SweepState(string resultsPath, List<SweepPoint> points)
    {
        _resultsPath = resultsPath;
        _points = points;
    }

    public IReadOnlyList<SweepPoint> Points => _points;

    public static SweepState Open(string dir, string fingerprint, bool restart)
    {
        string configPath = Path.Combine(dir, "sweep-config.json");
        string resultsPath = Path.Combine(dir, "results.jsonl");
        if (restart)
        {
            File.Delete(resultsPath);
            File.Delete(configPath);
        }

        if (File.Exists(configPath))
        {
            string previous = File.ReadAllText(configPath);
            if (previous != fingerprint)
            {
                throw new ArgumentException($"{dir} holds a sweep started with other options ({previous}); give another --out, the same options, or --restart");
            }
        }
        else
        {
            File.WriteAllText(configPath, fingerprint);
        }

        var points = new List<SweepPoint>();
        if (File.Exists(resultsPath))
        {
            foreach (string line in File.ReadAllLines(resultsPath))
            {
                if (string.IsNullOrWhiteSpace(line))
                {
                    continue;
                }

                try
                {
                    if (JsonSerializer.Deserialize<SweepPoint>(line, Json) is { } point)
                    {
                        points.Add(point);
                    }
                }
                catch (JsonException)
                {
                    // The run being written when the sweep was killed; it is measured again.
                }
            }

            // Rewrite without a torn line, so appends start on a fresh line.
            File.WriteAllLines(resultsPath, points.Select(p => JsonSerializer.Serialize(p, Json)));
        }

        return new SweepState(resultsPath, points);
    }

    public bool Has(IReadOnlyDictionary<string, string> setting, double rate) =>
        _points.Exists(p => Same(p.Setting, setting) && p.Rate == rate);

    /// <summary>True when a run of the setting below <paramref name="rate"/> missed the SLO (higher rates are skipped).</summary>
    public bool FailedBelow(IReadOnlyDictionary<string, string> setting, double rate) =>
        _points.Exists(p => Same(p.Setting, setting) && p.Rate < rate && !p.Meets);

    public void Append(SweepPoint point)
    {
        _points.Add(point);
        using var stream = new FileStream(_resultsPath, FileMode.Append, FileAccess.Write, FileShare.Read);
        using var writer = new StreamWriter(stream);
        writer.WriteLine(JsonSerializer.Serialize(point, Json));
        writer.Flush();
        stream.Flush(flushToDisk: true);
    }

    internal static bool Same(IReadOnlyDictionary<string, string> a, IReadOnlyDictionary<string, string> b) =>
        a.Count == b.Count && a.All(kv => b.TryGetValue(kv.Key, out string? v) && v == kv.Value);
}
