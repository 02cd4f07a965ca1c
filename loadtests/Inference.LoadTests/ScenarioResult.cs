using System.Text;

namespace Inference.LoadTests;

/// <summary>A scenario's verdict: named checks, each passed or not with what was measured, and the figures behind them.</summary>
public sealed class ScenarioResult
{
    private readonly List<(string Check, bool Passed, string Detail)> _checks = [];

    public ScenarioResult(string scenario) => Scenario = scenario;

    public string Scenario { get; }

    public IReadOnlyList<(string Check, bool Passed, string Detail)> Checks => _checks;

    public List<string> Notes { get; } = [];

    public bool Passed => _checks.Count > 0 && _checks.TrueForAll(c => c.Passed);

    public ScenarioResult Check(string check, bool passed, string detail)
    {
        _checks.Add((check, passed, detail));
        return this;
    }

    public override string ToString()
    {
        var s = new StringBuilder();
        s.Append("scenario ").Append(Scenario).Append(": ").Append(Passed ? "PASS" : "FAIL").Append('\n');
        foreach ((string check, bool passed, string detail) in _checks)
        {
            s.Append(passed ? "  ok    " : "  FAIL  ").Append(check).Append(": ").Append(detail).Append('\n');
        }

        foreach (string note in Notes)
        {
            s.Append("  note  ").Append(note).Append('\n');
        }

        return s.ToString();
    }
}
