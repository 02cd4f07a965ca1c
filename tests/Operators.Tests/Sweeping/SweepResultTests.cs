using System.Text.Json.Nodes;
using Inference.LoadGen.Serving;
using Inference.LoadGen.Sweeping;
using static Inference.Operators.Tests.Sweeping.SweepPoints;

namespace Inference.Operators.Tests.Sweeping;

public sealed class SweepResultTests
{
    private static readonly double[] Rates = [1, 2, 4];

    private static SweepResult Result(IReadOnlyList<Dictionary<string, string>> settings, IReadOnlyList<SweepPoint> points) =>
        new(Path.GetTempPath(), settings, Rates, points, new Slo(500, null, 2000), 95, 0.9);

    [Fact]
    public void Ctor_HighestGoodRateWins_TieBrokenByLowerE2e()
    {
        Dictionary<string, string> a = Setting(("max-num-seqs", "8")), b = Setting(("max-num-seqs", "16")), c = Setting(("max-num-seqs", "32"));
        SweepResult result = Result([a, b, c],
        [
            Point(a, 1, meets: true), Point(a, 2, meets: true, e2eMs: 900), Point(a, 4, meets: false),
            Point(b, 1, meets: true), Point(b, 2, meets: true, e2eMs: 700), Point(b, 4, meets: false),
            Point(c, 1, meets: true), Point(c, 2, meets: false),
        ]);

        Assert.NotNull(result.Recommended);
        Assert.Equal("max-num-seqs=16", SweepResult.Label(result.Recommended.Setting));
        Assert.Equal(2, result.Recommended.Best!.Rate);
        Assert.Equal([2.0, 2.0, 1.0], result.Summaries.Select(s => s.Best!.Rate));
    }

    [Fact]
    public void Ctor_GoodRateAboveAFailedLowerRate_DoesNotCount()
    {
        // d met the SLO at 2 and 4, but missed it at 1: a flaky point above a miss is not capacity.
        Dictionary<string, string> a = Setting(("block-size", "16")), d = Setting(("block-size", "32"));
        SweepResult result = Result([a, d],
        [
            Point(a, 1, meets: true), Point(a, 2, meets: true),
            Point(d, 1, meets: false), Point(d, 2, meets: true), Point(d, 4, meets: true),
        ]);

        Assert.Null(result.Summaries[1].Best);
        Assert.Equal("block-size=16", SweepResult.Label(result.Recommended!.Setting));
        Assert.Equal(2, result.Recommended.Best!.Rate);
    }

    [Fact]
    public void ToJson_Recommended_HasTheRateAndTokenMeansThePlannerReads()
    {
        Dictionary<string, string> a = Setting();
        SweepResult result = Result([a], [Point(a, 1, meets: true), Point(a, 2, meets: true, e2eMs: 800), Point(a, 4, meets: false)]);

        JsonObject json = result.ToJson();

        JsonNode recommended = json["recommended"]!;
        Assert.Equal(2, recommended["max_good_request_rate"]!.GetValue<double>());
        Assert.Equal(64, recommended["mean_output_tokens"]!.GetValue<double>());
        Assert.Equal(128, recommended["mean_input_tokens"]!.GetValue<double>());
        Assert.Equal(800, recommended["e2el_ms"]!.GetValue<double>());
        Assert.Equal(3, json["settings"]![0]!["points"]!.AsArray().Count);
        Assert.Equal("ttft:500 e2el:2000", json["slo"]!.GetValue<string>());
    }

    [Fact]
    public void Ctor_NothingMeets_NoRecommendation()
    {
        Dictionary<string, string> a = Setting();
        SweepResult result = Result([a], [Point(a, 1, meets: false)]);

        Assert.Null(result.Recommended);
        Assert.Null(result.ToJson()["recommended"]);
        Assert.Contains("recommended: none", result.ToConsole(), StringComparison.Ordinal);
    }
}
