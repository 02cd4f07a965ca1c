using Inference.LoadGen.Serving;

namespace Inference.Operators.Tests.Serving;

public sealed class SloTests
{
    [Fact]
    public void Parse_SpaceSeparatedPairs_SetsTheGivenLimits()
    {
        Slo slo = Slo.Parse(["ttft:500 e2el:3000"]);

        Assert.Equal(new Slo(TtftMs: 500, TpotMs: null, E2eMs: 3000), slo);
        Assert.False(slo.IsEmpty);
    }

    [Fact]
    public void Parse_SeveralArgumentsAndCommas_AllPairsCount()
    {
        Slo slo = Slo.Parse(["ttft:250.5,tpot:40", "e2el:1e4"]);

        Assert.Equal(new Slo(250.5, 40, 10_000), slo);
    }

    [Fact]
    public void Parse_Nothing_IsEmpty()
    {
        Slo slo = Slo.Parse([]);

        Assert.True(slo.IsEmpty);
        Assert.Equal("none", slo.ToString());
    }

    [Fact]
    public void ToString_RoundTripsThroughParse()
    {
        var slo = new Slo(500, 50, 5000);

        Assert.Equal("ttft:500 tpot:50 e2el:5000", slo.ToString());
        Assert.Equal(slo, Slo.Parse([slo.ToString()]));
    }

    [Theory]
    [InlineData("ttft")]
    [InlineData(":500")]
    [InlineData("ttft:abc")]
    [InlineData("ttft:0")]
    [InlineData("ttft:-5")]
    [InlineData("latency:500")]
    public void Parse_BadPair_ThrowsNamingIt(string pair)
    {
        ArgumentException ex = Assert.Throws<ArgumentException>(() => Slo.Parse([pair]));

        Assert.Contains("--goodput", ex.Message, StringComparison.Ordinal);
        Assert.Contains(pair, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Meets_EveryGivenLimit_AndNeverAFailure()
    {
        var slo = new Slo(TtftMs: 125, TpotMs: 25, E2eMs: 1000);
        RequestOutcome Outcome(double ttft, double latency, int tokens, bool success = true) =>
            new() { Success = success, Ttft = ttft, Latency = latency, UsageCompletionTokens = tokens };

        Assert.True(slo.Meets(Outcome(0.125, 0.25, 9))); // TTFT 125 (on the limit counts), TPOT 15.625, E2E 250
        Assert.True(slo.Meets(Outcome(0.0625, 1, 65))); // E2E 1000 on the limit, TPOT 14.65
        Assert.False(slo.Meets(Outcome(0.126, 0.2, 5))); // TTFT over
        Assert.False(slo.Meets(Outcome(0.05, 0.5, 10))); // TPOT 50 ms over
        Assert.False(slo.Meets(Outcome(0.05, 1.2, 100))); // E2E over (TPOT 11.6 ms within)
        Assert.False(slo.Meets(Outcome(0.01, 0.02, 2, success: false)));
    }
}
