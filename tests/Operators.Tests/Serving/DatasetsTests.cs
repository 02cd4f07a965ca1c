using System.Text.Json;
using Inference.Gateway.Tests.Infrastructure;
using Inference.LoadGen.Serving;
using Inference.Worker.Tokenization;

namespace Inference.Operators.Tests.Serving;

/// <summary>Datasets with the bundled model's tokenizer (the one a run against the bundled model uses).</summary>
public sealed class DatasetsTests : IDisposable
{
    private static readonly Lazy<ModelTokenizer> SharedTokenizer = new(() => ModelTokenizer.Load(RepoFiles.BundledModel()));
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "datasets-tests-" + Guid.NewGuid().ToString("N"));

    public DatasetsTests()
    {
        Directory.CreateDirectory(_dir);
    }

    private static ModelTokenizer Tokenizer => SharedTokenizer.Value;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string WriteFile(string name, object content)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, content as string ?? JsonSerializer.Serialize(content));
        return path;
    }

    private static object Conversation(params (string From, string Value)[] turns) =>
        new { conversations = turns.Select(t => new Dictionary<string, string> { ["from"] = t.From, ["value"] = t.Value }).ToArray() };

    [Fact]
    public void Build_Random_PromptsReencodeToTheReportedLength()
    {
        IReadOnlyList<BenchRequest> requests = Datasets.Build(
            new DatasetOptions { Name = "random", NumPrompts = 20, InputLength = 32, OutputLength = 16, Seed = 3 }, Tokenizer);

        Assert.Equal(20, requests.Count);
        Assert.All(requests, r =>
        {
            Assert.Equal(r.PromptTokens, Tokenizer.Encode(r.Prompt, addSpecialTokens: false).Length);
            Assert.InRange(r.PromptTokens, 24, 32); // re-encoding random ids may merge a few, never adds
            Assert.Equal(16, r.MaxTokens);
            Assert.Null(r.SystemPrompt);
        });
        Assert.True(requests.Select(r => r.Prompt).Distinct().Count() == 20, "every random prompt should differ");
    }

    [Fact]
    public void Build_RandomWithRangeRatio_LengthsWithinTheRatioBounds()
    {
        // Lengths are drawn from [len × (1 − r), len × (1 + r)]: input [20, 60], output [10, 30].
        IReadOnlyList<BenchRequest> requests = Datasets.Build(
            new DatasetOptions { Name = "random", NumPrompts = 40, InputLength = 40, OutputLength = 20, RangeRatio = 0.5, Seed = 5 }, Tokenizer);

        Assert.All(requests, r =>
        {
            Assert.Equal(r.PromptTokens, Tokenizer.Encode(r.Prompt, addSpecialTokens: false).Length);
            Assert.InRange(r.PromptTokens, 1, 60);
            Assert.InRange(r.MaxTokens, 10, 30);
        });
        Assert.True(requests.Select(r => r.MaxTokens).Distinct().Count() > 5, "the output lengths should vary");
        Assert.True(requests.Min(r => r.PromptTokens) < 35 && requests.Max(r => r.PromptTokens) > 45, "the prompt lengths should spread over the range");
    }

    [Fact]
    public void Build_SameSeed_SameRequests()
    {
        var options = new DatasetOptions { Name = "random", NumPrompts = 5, InputLength = 16, OutputLength = 8, RangeRatio = 0.25, Seed = 9 };

        Assert.Equal(Datasets.Build(options, Tokenizer), Datasets.Build(options, Tokenizer));
    }

    [Fact]
    public void Build_SharedPrefix_GroupsShareTheirSystemPromptAndDiffer()
    {
        IReadOnlyList<BenchRequest> requests = Datasets.Build(
            new DatasetOptions { Name = "shared-prefix", NumPrompts = 9, NumPrefixes = 3, PrefixLength = 24, InputLength = 8, OutputLength = 4 }, Tokenizer);

        var groups = requests.Select((r, i) => (r, Group: i % 3)).GroupBy(x => x.Group).ToList();
        Assert.All(groups, g => Assert.Single(g.Select(x => x.r.SystemPrompt).Distinct()));
        Assert.Equal(3, requests.Select(r => r.SystemPrompt).Distinct().Count());
        Assert.All(requests, r =>
        {
            Assert.NotNull(r.SystemPrompt);
            int prefix = Tokenizer.Encode(r.SystemPrompt!, addSpecialTokens: false).Length;
            Assert.Equal(prefix + Tokenizer.Encode(r.Prompt, addSpecialTokens: false).Length, r.PromptTokens);
            Assert.Equal(4, r.MaxTokens);
        });
        Assert.Equal(9, requests.Select(r => r.Prompt).Distinct().Count());
    }

    [Fact]
    public void Build_ShareGpt_KeepsHumanTurnsWithAnAnswer_DropsShortPrompts()
    {
        string path = WriteFile("sharegpt.json", new object[]
        {
            Conversation(("human", "Tell me about the history of the city of Boston in a few sentences."), ("gpt", "Boston was founded in 1630 by Puritan settlers from England.")),
            Conversation(("human", "Hi"), ("gpt", "Hello there, how can I help you today?")), // prompt under 4 tokens
            Conversation(("human", "Is anyone going to answer this question at all?")), // no answer
            new { conversation = new[] { new { role = "system", content = "Be brief." }, new { role = "user", content = "What is the capital of France, and why?" }, new { role = "assistant", content = "Paris, since the Middle Ages." } } },
            Conversation(("human", "Summarize the plot of the novel in two lines please."), ("gpt", "Ok.")), // answer under 4 tokens
        });

        IReadOnlyList<BenchRequest> requests = Datasets.Build(new DatasetOptions { Name = "sharegpt", Path = path, NumPrompts = 10 }, Tokenizer);

        Assert.Equal(
            ["Tell me about the history of the city of Boston in a few sentences.", "What is the capital of France, and why?"],
            requests.Select(r => r.Prompt).Order(StringComparer.Ordinal));
        Assert.All(requests, r => Assert.Equal(Tokenizer.Encode(r.Prompt).Length, r.PromptTokens));
        BenchRequest boston = requests.Single(r => r.Prompt.Contains("Boston", StringComparison.Ordinal));
        Assert.Equal(Tokenizer.Encode("Boston was founded in 1630 by Puritan settlers from England.", addSpecialTokens: false).Length, boston.MaxTokens);
    }

    [Fact]
    public void Build_ShareGptWithOutputLength_EveryRequestAsksForIt()
    {
        string path = WriteFile("sharegpt.json", new object[]
        {
            Conversation(("human", "Write a short poem about the sea and its waves."), ("gpt", "Ok.")),
        });

        IReadOnlyList<BenchRequest> requests = Datasets.Build(new DatasetOptions { Name = "sharegpt", Path = path, ShareGptOutputLength = 12 }, Tokenizer);

        Assert.Equal(12, Assert.Single(requests).MaxTokens);
    }

    [Theory]
    [InlineData("""[{"conversations": []}, 5]""", "[1] is not an object")]
    [InlineData("""[{"turns": []}]""", "[0] has no \"conversations\" array")]
    [InlineData("""[{"conversations": {"from": "human"}}]""", "[0].conversations is not an array")]
    [InlineData("""[{"conversations": []}, {"conversations": [{"from": "human", "value": 3}]}]""", "[1].conversations has a turn without")]
    [InlineData("""{"conversations": []}""", "the top level must be an array")]
    [InlineData("""[{"conversations": [}]""", "--dataset-path")]
    [InlineData("""[{"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello, how are you?"}]}]""", "no conversation has a human turn")]
    public void Build_ShareGptMalformed_ThrowsNamingTheFileAndTheEntry(string json, string expected)
    {
        string path = WriteFile("bad.json", json);

        ArgumentException ex = Assert.Throws<ArgumentException>(() => Datasets.Build(new DatasetOptions { Name = "sharegpt", Path = path }, Tokenizer));

        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_ShareGptMissingFile_ThrowsNamingIt()
    {
        string path = Path.Combine(_dir, "absent.json");

        ArgumentException ex = Assert.Throws<ArgumentException>(() => Datasets.Build(new DatasetOptions { Name = "sharegpt", Path = path }, Tokenizer));

        Assert.Contains($"--dataset-path {path}", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("zipf", 10, 8, 0.0, "--dataset zipf")]
    [InlineData("random", 0, 8, 0.0, "--num-prompts")]
    [InlineData("random", 10, 0, 0.0, "--input-len")]
    [InlineData("random", 10, 8, 1.0, "--random-range-ratio")]
    [InlineData("sharegpt", 10, 8, 0.0, "--dataset-path")]
    public void Build_BadOption_ThrowsNamingIt(string name, int numPrompts, int inputLength, double rangeRatio, string option)
    {
        var options = new DatasetOptions { Name = name, NumPrompts = numPrompts, InputLength = inputLength, RangeRatio = rangeRatio };

        ArgumentException ex = Assert.Throws<ArgumentException>(() => Datasets.Build(options, Tokenizer));

        Assert.Contains(option, ex.Message, StringComparison.Ordinal);
    }
}
