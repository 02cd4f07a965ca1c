using System.Globalization;

namespace Inference.LoadGen.Serving;

/// <summary>
/// Service-level objectives for goodput, as vllm bench serve's --goodput: a request is good when its TTFT, its TPOT
/// and its end-to-end latency are each within the limit given (milliseconds; a metric without a limit is not checked).
/// </summary>
public sealed record Slo(double? TtftMs, double? TpotMs, double? E2eMs)
{
    public static readonly Slo None = new(null, null, null);

    public bool IsEmpty => TtftMs is null && TpotMs is null && E2eMs is null;

    /// <summary>Parses "ttft:500 tpot:50 e2el:5000" (space- or comma-separated KEY:MILLISECONDS pairs).</summary>
    public static Slo Parse(IEnumerable<string> pairs)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        double? ttft = null, tpot = null, e2e = null;
        foreach (string pair in pairs.SelectMany(p => p.Split([',', ' '], StringSplitOptions.RemoveEmptyEntries)))
        {
            int colon = pair.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0 || !double.TryParse(pair.AsSpan(colon + 1), NumberStyles.Float, CultureInfo.InvariantCulture, out double ms) || ms <= 0)
            {
                throw new ArgumentException($"--goodput {pair}: expected KEY:MILLISECONDS with KEY one of ttft, tpot, e2el and a positive number");
            }

            switch (pair[..colon])
            {
                case "ttft": ttft = ms; break;
                case "tpot": tpot = ms; break;
                case "e2el": e2e = ms; break;
                default: throw new ArgumentException($"--goodput {pair}: {pair[..colon]} is not one of ttft, tpot, e2el");
            }
        }

        return new Slo(ttft, tpot, e2e);
    }

    public bool Meets(RequestOutcome outcome)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        return outcome.Success
            && (TtftMs is not { } t || outcome.Ttft * 1000 <= t)
            && (TpotMs is not { } p || outcome.Tpot * 1000 <= p)
            && (E2eMs is not { } e || outcome.Latency * 1000 <= e);
    }

    public override string ToString() => IsEmpty ? "none" : string.Join(' ', new[]
    {
        TtftMs is { } t ? $"ttft:{t.ToString(CultureInfo.InvariantCulture)}" : null,
        TpotMs is { } p ? $"tpot:{p.ToString(CultureInfo.InvariantCulture)}" : null,
        E2eMs is { } e ? $"e2el:{e.ToString(CultureInfo.InvariantCulture)}" : null,
    }.Where(s => s is not null));
}
