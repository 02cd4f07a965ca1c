using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Inference.Scheduler;
using Inference.Worker.Constraints;
using Inference.Worker.Engine;
using Inference.Worker.Runtime;
using Inference.Worker.Sampling;
using Inference.Worker.Tests.Demo;
using Json.Schema;

namespace Inference.Worker.Tests.Engine;

/// <summary>Grammar-constrained decoding through the real engine step on the bundled model, batched with free rows.</summary>
public sealed class ConstrainedDecodingTests : IDisposable
{
    private const string Schema = """
        {"type":"object","properties":{
          "name":{"type":"string","minLength":1,"maxLength":12},
          "age":{"type":"integer","minimum":0,"maximum":120},
          "tags":{"type":"array","items":{"enum":["red","green","blue"]},"maxItems":3},
          "ok":{"type":"boolean"}},
         "required":["name","age","tags","ok"],"additionalProperties":false}
        """;

    private readonly ModelRuntime _runtime = ModelRuntime.Load(new WorkerOptions { ModelDir = BundledModel.Directory(), KvCacheMemory = "16MiB", BlockSize = 16 });

    public void Dispose() => _runtime.Dispose();

    private static string Gbnf()
    {
        using JsonDocument doc = JsonDocument.Parse(Schema);
        return JsonSchemaGrammar.ToGbnf(doc.RootElement);
    }

    private int[] Prompt(string text) => _runtime.Tokenizer.Encode(text);

    private string Text(List<int> tokens) => _runtime.Tokenizer.Decode([.. tokens]);

    [Fact]
    public void EveryConstrainedOutputValidatesAndStops_BesideUnconstrainedRows()
    {
        EngineCore core = CoreDriver.Core(_runtime);
        string gbnf = Gbnf();
        var constrained = new List<ChannelReader<EngineEvent>>();
        for (int seed = 1; seed <= 6; seed++)
        {
            var sampling = new SamplingParams { Temperature = 1f, Seed = (ulong)seed, MaxTokens = 600 };
            Refusal? refusal = core.Add(new GenerationRequest { RequestId = $"c{seed}", PromptTokens = Prompt("Describe a person as JSON:"), Sampling = sampling, Grammar = gbnf }, out ChannelReader<EngineEvent>? events);
            Assert.Null(refusal);
            constrained.Add(events!);
            CoreDriver.Add(core, $"free{seed}", Prompt("The jury said"), new SamplingParams { Temperature = 1f, Seed = (ulong)seed, MaxTokens = 40 });
        }

        CoreDriver.RunToCompletion(core);
        JsonSchema schema = JsonSchema.FromText(Schema);
        foreach (ChannelReader<EngineEvent> events in constrained)
        {
            CoreDriver.Output output = CoreDriver.Read(events);
            string text = Text(output.Tokens);
            Assert.Equal(FinishReason.Stop, output.Finish);
            using JsonDocument doc = JsonDocument.Parse(text);
            Assert.True(schema.Evaluate(doc.RootElement).IsValid, text);
        }

        Assert.Equal(0, core.TrackedSequences);
        Assert.Equal(0, core.UsedBlocks);
    }

    [Fact]
    public void ConstrainedAndFreeRows_AreBatchInvariant()
    {
        string gbnf = Gbnf();
        var seeded = new SamplingParams { Temperature = 1f, Seed = 7, MaxTokens = 200 };
        (List<int> alone, _) = Run((Prompt("Describe:"), seeded, gbnf));
        (List<int> batched, _) = Run((Prompt("Describe:"), seeded, gbnf), (Prompt("Once upon"), new SamplingParams { Temperature = 1f, Seed = 3, MaxTokens = 30 }, null), (Prompt("A"), seeded, gbnf));
        Assert.Equal(alone, batched);

        // A free row is untouched by constrained rows beside it.
        var free = new SamplingParams { Temperature = 1f, Seed = 11, MaxTokens = 30 };
        (List<int> freeAlone, _) = Run((Prompt("The city"), free, null));
        (List<int> freeBatched, _) = Run((Prompt("The city"), free, null), (Prompt("Describe:"), seeded, gbnf));
        Assert.Equal(freeAlone, freeBatched);
    }

    [Fact]
    public void AChoiceStopsAsSoonAsItIsComplete_AndMinTokensCannotForceMore()
    {
        (List<int> tokens, FinishReason finish) = Run((Prompt("Is it raining?"), new SamplingParams { Temperature = 1f, Seed = 5, MaxTokens = 50, MinTokens = 40 }, RegexGrammar.ToGbnf("(yes|no|maybe)")));
        Assert.Equal(FinishReason.Stop, finish);
        Assert.Contains(Text(tokens), new[] { "yes", "no", "maybe" });
        Assert.DoesNotContain(tokens, t => _runtime.EosTokenIds.Contains(t));
    }

    [Fact]
    public void MaxTokensCutsAConstrainedOutputWithLength()
    {
        (List<int> tokens, FinishReason finish) = Run((Prompt("Count:"), new SamplingParams { Temperature = 1f, Seed = 2, MaxTokens = 5 }, "root ::= [0-9]{40}"));
        Assert.Equal(FinishReason.Length, finish);
        Assert.Equal(5, tokens.Count);
        Assert.Matches("^[0-9]+$", Text(tokens));
    }

    [Fact]
    public void ABadGrammarIsRefusedNamingIt()
    {
        EngineCore core = CoreDriver.Core(_runtime);
        Refusal? refusal = core.Add(new GenerationRequest { RequestId = "bad", PromptTokens = Prompt("x"), Grammar = "root ::= undefined-rule" }, out _);
        Assert.NotNull(refusal);
        Assert.Equal("grammar", refusal.Param);
        Assert.Contains("'undefined-rule' is referenced but not defined", refusal.Message, StringComparison.Ordinal);
        Assert.False(core.HasWork);
    }

    private (List<int> Tokens, FinishReason Finish) Run(params (int[] Prompt, SamplingParams Sampling, string? Grammar)[] requests)
    {
        EngineCore core = CoreDriver.Core(_runtime);
        ChannelReader<EngineEvent>? first = null;
        for (int i = 0; i < requests.Length; i++)
        {
            Refusal? refusal = core.Add(new GenerationRequest { RequestId = $"r{i}", PromptTokens = requests[i].Prompt, Sampling = requests[i].Sampling, Grammar = requests[i].Grammar }, out ChannelReader<EngineEvent>? events);
            Assert.Null(refusal);
            first ??= events;
        }

        CoreDriver.RunToCompletion(core);
        Assert.Equal(0, core.TrackedSequences);
        CoreDriver.Output output = CoreDriver.Read(first!);
        return (output.Tokens, output.Finish);
    }
}
