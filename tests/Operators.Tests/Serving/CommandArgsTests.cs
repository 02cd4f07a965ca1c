using Inference.LoadGen.Reporting;
using Inference.LoadGen.Serving;

namespace Inference.Operators.Tests.Serving;

/// <summary>Option parsing as bench serve uses it (Reporting/CommandArgs with serve's option lists).</summary>
public sealed class CommandArgsTests
{
    private static CommandArgs Serve(params string[] args) =>
        new(args, ServeCommand.ValueOptions, ServeCommand.FlagOptions, ServeCommand.MultiValueOptions);

    [Fact]
    public void Ctor_UnknownOption_ErrorNamesIt()
    {
        ArgumentException ex = Assert.Throws<ArgumentException>(() => Serve("--num-prompts", "4", "--num-promts", "5"));

        Assert.Contains("unknown option --num-promts", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Ctor_FlagGivenAValue_IsUnknown()
    {
        ArgumentException ex = Assert.Throws<ArgumentException>(() => Serve("--self-check=yes"));

        Assert.Contains("--self-check", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Ctor_ValueMissing_ErrorNamesTheOption()
    {
        ArgumentException ex = Assert.Throws<ArgumentException>(() => Serve("--model"));

        Assert.Contains("--model needs a value", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Goodput_TakesEveryValueUpToTheNextOption()
    {
        CommandArgs args = Serve("--goodput", "ttft:500", "e2el:3000", "--num-prompts", "5", "--self-check");

        Assert.Equal(["ttft:500", "e2el:3000"], args.All("--goodput"));
        Assert.Equal(5, args.Int("--num-prompts", 200));
        Assert.True(args.Flag("--self-check"));
        Assert.Equal(new Slo(500, null, 3000), Slo.Parse(args.All("--goodput")));
    }

    [Fact]
    public void SingleValueOption_TakesOneValue_ExtraIsUnknown()
    {
        ArgumentException ex = Assert.Throws<ArgumentException>(() => Serve("--model", "a", "b"));

        Assert.Contains("unknown option b", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Values_InlineAndRepeated_LastWins()
    {
        CommandArgs args = Serve("--num-prompts=7", "--request-rate", "2", "--request-rate", "inf");

        Assert.Equal(7, args.Int("--num-prompts", 200));
        Assert.Equal(double.PositiveInfinity, args.Double("--request-rate", 1));
        Assert.Null(args.IntOrNull("--max-concurrency"));
        Assert.Equal(128, args.Int("--input-len", 128));
    }

    [Theory]
    [InlineData("--num-prompts", "ten")]
    [InlineData("--num-prompts", "1.5")]
    [InlineData("--request-rate", "fast")]
    [InlineData("--request-rate", "NaN")]
    public void Number_Malformed_ErrorNamesTheOptionAndValue(string option, string value)
    {
        CommandArgs args = Serve(option, value);

        ArgumentException ex = Assert.Throws<ArgumentException>(() => args.Double(option, 0) + args.Int(option, 0));

        Assert.Contains($"{option} {value}", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ParseDoubles_CommaList()
    {
        Assert.Equal([90.0, 99.0, 99.9], CommandArgs.ParseDoubles("--percentiles", "90, 99,99.9"));
    }
}
