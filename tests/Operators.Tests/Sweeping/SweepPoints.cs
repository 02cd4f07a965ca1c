using Inference.LoadGen.Sweeping;

namespace Inference.Operators.Tests.Sweeping;

/// <summary>Hand-built sweep points for the state and result tests.</summary>
internal static class SweepPoints
{
    public static Dictionary<string, string> Setting(params (string Name, string Value)[] values) =>
        values.ToDictionary(v => v.Name, v => v.Value, StringComparer.Ordinal);

    public static SweepPoint Point(Dictionary<string, string> setting, double rate, bool meets, double e2eMs = 1000) => new()
    {
        Setting = setting,
        Rate = rate,
        Completed = 10,
        Failed = meets ? 0 : 2,
        RequestThroughput = rate * 0.98,
        OutputThroughput = rate * 0.98 * 64,
        Goodput = meets ? rate * 0.98 : null,
        TtftMs = 120.5,
        TpotMs = 12.25,
        E2eMs = e2eMs,
        MeanInputTokens = 128,
        MeanOutputTokens = 64,
        Meets = meets,
        Reason = meets ? string.Empty : "2 failed requests",
    };
}
