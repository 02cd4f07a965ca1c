using Inference.LoadGen.Sweeping;
using static Inference.Operators.Tests.Sweeping.SweepPoints;

namespace Inference.Operators.Tests.Sweeping;

public sealed class SweepStateTests : IDisposable
{
    private const string Fingerprint = """{"--slo":"ttft:500"}""";
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "sweep-state-tests-" + Guid.NewGuid().ToString("N"));

    public SweepStateTests()
    {
        Directory.CreateDirectory(_dir);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Results => Path.Combine(_dir, "results.jsonl");

    private static void AssertSame(SweepPoint expected, SweepPoint actual)
    {
        Assert.True(SweepState.Same(expected.Setting, actual.Setting), $"{SweepResult.Label(expected.Setting)} vs {SweepResult.Label(actual.Setting)}");
        Assert.Equal(expected with { Setting = actual.Setting }, actual);
    }

    [Fact]
    public void Open_SameFingerprint_SamePointsBack()
    {
        SweepPoint a = Point(Setting(("max-num-seqs", "8")), 1, meets: true);
        SweepPoint b = Point(Setting(("max-num-seqs", "8")), 2, meets: false);
        SweepState first = SweepState.Open(_dir, Fingerprint, restart: false);
        Assert.Empty(first.Points);
        first.Append(a);
        first.Append(b);

        SweepState again = SweepState.Open(_dir, Fingerprint, restart: false);

        Assert.Equal(2, again.Points.Count);
        AssertSame(a, again.Points[0]);
        AssertSame(b, again.Points[1]);
        Assert.True(again.Has(Setting(("max-num-seqs", "8")), 2));
        Assert.False(again.Has(Setting(("max-num-seqs", "16")), 2));
        Assert.False(again.Has(Setting(("max-num-seqs", "8")), 4));
        Assert.True(again.FailedBelow(Setting(("max-num-seqs", "8")), 4));
        Assert.False(again.FailedBelow(Setting(("max-num-seqs", "8")), 2));
    }

    [Fact]
    public void Open_TornLastLine_DroppedAndAppendsStartOnAFreshLine()
    {
        SweepState first = SweepState.Open(_dir, Fingerprint, restart: false);
        first.Append(Point(Setting(), 1, meets: true));
        first.Append(Point(Setting(), 2, meets: true));
        File.AppendAllText(Results, """{"setting":{},"rate":4,"comple"""); // killed mid-write

        SweepState resumed = SweepState.Open(_dir, Fingerprint, restart: false);
        Assert.Equal([1.0, 2.0], resumed.Points.Select(p => p.Rate));
        resumed.Append(Point(Setting(), 4, meets: true));

        SweepState again = SweepState.Open(_dir, Fingerprint, restart: false);
        Assert.Equal([1.0, 2.0, 4.0], again.Points.Select(p => p.Rate));
        Assert.Equal(3, File.ReadAllLines(Results).Length);
    }

    [Fact]
    public void Open_OtherFingerprint_ThrowsNamingTheFolder()
    {
        SweepState.Open(_dir, Fingerprint, restart: false).Append(Point(Setting(), 1, meets: true));

        ArgumentException ex = Assert.Throws<ArgumentException>(() => SweepState.Open(_dir, """{"--slo":"ttft:100"}""", restart: false));

        Assert.Contains(_dir, ex.Message, StringComparison.Ordinal);
        Assert.Contains("--restart", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_Restart_StartsAfreshWithTheNewFingerprint()
    {
        SweepState.Open(_dir, Fingerprint, restart: false).Append(Point(Setting(), 1, meets: true));

        SweepState restarted = SweepState.Open(_dir, """{"--slo":"ttft:100"}""", restart: true);

        Assert.Empty(restarted.Points);
        Assert.Equal("""{"--slo":"ttft:100"}""", File.ReadAllText(Path.Combine(_dir, "sweep-config.json")));
    }
}
