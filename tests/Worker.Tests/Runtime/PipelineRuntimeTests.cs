using Inference.Worker.Engine;
using Inference.Worker.Models;
using Inference.Worker.Runtime;
using Inference.Worker.Sampling;
using Inference.Worker.Serving;

namespace Inference.Worker.Tests.Runtime;

/// <summary>A worker given several devices: option checks, KV sizing per stage, the engine's tokens and the worker's info.</summary>
public sealed class PipelineRuntimeTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "pipeline-" + Guid.NewGuid().ToString("N"));

    public PipelineRuntimeTests() =>
        RandomModelWriter.Write(_dir, TestModels.Config(ModelArchitecture.Llama) with { VocabSize = 400, NumHiddenLayers = 3, MaxPositionEmbeddings = 512 }, seed: 11);

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    private ModelRuntime Load(string device, string? layers = null, string kvMemory = "8MiB") =>
        ModelRuntime.Load(new WorkerOptions { ModelDir = _dir, Device = device, PipelineLayers = layers, KvCacheMemory = kvMemory, BlockSize = 4 });

    [Theory]
    [InlineData(32, 3, "11,11,10")]
    [InlineData(5, 2, "3,2")]
    [InlineData(4, 4, "1,1,1,1")]
    [InlineData(7, 1, "7")]
    public void SplitLayers_NoExplicitList_SplitsEvenlyWithTheRemainderFirst(int layers, int stages, string expected)
    {
        Assert.Equal(expected, string.Join(',', PipelineOption.SplitLayers(layers, stages, null)));
    }

    [Theory]
    [InlineData("cpu,cpu,cpu,cpu", null, "4 pipeline stages but the model has only 3 decoder layers")]
    [InlineData("cpu,cpu", "1,1", "--pipeline-layers '1,1' sums to 2 layers but the model has 3 decoder layers")]
    [InlineData("cpu,cpu", "2,2", "sums to 4 layers but the model has 3")]
    [InlineData("cpu", "2", "sums to 2 layers but the model has 3")]
    [InlineData("cpu,cpu", "1,1,1", "lists 3 stage(s) but --device 'cpu,cpu' names 2")]
    [InlineData("cpu,cpu", "3,0", "entry '0' is not a positive layer count")]
    [InlineData("cpu,cpu", "x,2", "entry 'x' is not a positive layer count")]
    [InlineData("cpu,,cpu", null, "has an empty entry")]
    [InlineData("cpu,gpu:0", null, "--device 'gpu:0' is not valid")]
    [InlineData("cpu,cuda:0", null, "mixes device types (cpu and cuda:0)")]
    [InlineData("cuda:0,cpu", null, "mixes device types (cuda:0 and cpu)")]
    public void Load_BadPipeline_RefusedNamingTheOption(string device, string? layers, string message)
    {
        var ex = Assert.ThrowsAny<ArgumentException>(() => Load(device, layers));
        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_CudaDevicesThatDoNotExist_Refused()
    {
        // On this CPU build no CUDA device exists at all; on a GPU box cuda:63 is past the visible ones.
        var ex = Assert.ThrowsAny<ArgumentException>(() => Load("cuda:0,cuda:63"));
        Assert.Contains("--device cuda:", ex.Message, StringComparison.Ordinal);
        Assert.True(
            ex.Message.Contains("CUDA is not available", StringComparison.Ordinal) || ex.Message.Contains("CUDA device(s) are visible", StringComparison.Ordinal),
            ex.Message);
    }

    [Fact]
    public void Load_TwoCpuSlots_SplitsTheCacheWithTheUnsplitBlockCount()
    {
        // --kv-cache-memory is a device's budget: two slots of one device share it by their layers, so the split holds as many blocks.
        using ModelRuntime unsplit = Load("cpu");
        using ModelRuntime split = Load("cpu,cpu", "2,1");

        Assert.Equal(unsplit.Cache.NumBlocks, split.Cache.NumBlocks);
        Assert.Equal("cpu layers 0-1; cpu layers 2-2", PipelineStage.Describe(split.Model.Stages));
        Assert.Equal(split.Model.Stages, split.Cache.Stages);
    }

    [Fact]
    public void Load_DefaultCpuBudget_BlockCountIsTheMinimumOverStages()
    {
        using ModelRuntime unsplit = ModelRuntime.Load(new WorkerOptions { ModelDir = _dir, BlockSize = 4, MaxModelLength = 64 });
        using ModelRuntime split = ModelRuntime.Load(new WorkerOptions { ModelDir = _dir, Device = "cpu,cpu", BlockSize = 4, MaxModelLength = 64 });

        // The CPU default caps each stage at 64 full-length sequences of its own layers: every stage fits the same count.
        Assert.Equal(unsplit.Cache.NumBlocks, split.Cache.NumBlocks);
        Assert.Equal(64 * (64 + 4) / 4, split.Cache.NumBlocks);
    }

    [Fact]
    public void Load_BudgetBelowOneBlockOnAStage_NamesTheStage()
    {
        var ex = Assert.ThrowsAny<ArgumentException>(() => Load("cpu,cpu", "2,1", kvMemory: "1KiB"));
        Assert.Contains("pipeline stage 0 (cpu, 2 layers)", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("cpu,cpu", "2,1", true)]
    [InlineData("cpu,cpu", "1,2", false)]
    [InlineData("cpu,cpu,cpu", null, true)]
    [InlineData("cpu,cpu,cpu", null, false)]
    public void Generate_SplitEngine_GreedyTokensEqualUnsplit(string device, string? layers, bool hostKernels)
    {
        // Arrange: three prompts of different lengths batched together, greedy, through the production step.
        using ModelRuntime unsplit = Load("cpu");
        using ModelRuntime split = Load(device, layers);
        unsplit.Model.UseHostKernels = hostKernels;
        split.Model.UseHostKernels = hostKernels;
        var greedy = new SamplingParams { Temperature = 0, MaxTokens = 16, IgnoreEos = true };
        int[] a = TestModels.Tokens(11, seed: 1, 400);
        int[] b = TestModels.Tokens(5, seed: 2, 400);
        int[] c = TestModels.Tokens(23, seed: 3, 400);

        // Act
        List<int>[] expected = [.. Generate(unsplit, (a, greedy), (b, greedy), (c, greedy))];
        List<int>[] actual = [.. Generate(split, (a, greedy), (b, greedy), (c, greedy))];

        // Assert
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(16, expected[i].Count);
            Assert.Equal(expected[i], actual[i]);
        }
    }

    private static IEnumerable<List<int>> Generate(ModelRuntime runtime, params (int[] Prompt, SamplingParams Sampling)[] requests)
    {
        // A small token budget makes the longest prompt prefill in chunks beside the others' decodes.
        EngineCore core = Engine.CoreDriver.Core(runtime, maxBatchedTokens: 16);
        var streams = new List<System.Threading.Channels.ChannelReader<EngineEvent>>();
        for (int i = 0; i < requests.Length; i++)
        {
            streams.Add(Engine.CoreDriver.Add(core, $"r{i}", requests[i].Prompt, requests[i].Sampling));
        }

        Engine.CoreDriver.RunToCompletion(core);
        Assert.Equal(0, core.UsedBlocks);
        return streams.Select(s => Engine.CoreDriver.Read(s).Tokens).ToList();
    }

    [Fact]
    public void Info_SplitWorker_ReportsItsStagesAndKeepsThemOverTheWire()
    {
        using WorkerHost split = WorkerHost.Start(
            new WorkerOptions { ModelDir = _dir, Device = "cpu,cpu", PipelineLayers = "1,2", KvCacheMemory = "4MiB" }, new EngineOptions(), "split");
        using WorkerHost unsplit = WorkerHost.Start(new WorkerOptions { ModelDir = _dir, KvCacheMemory = "4MiB" }, new EngineOptions(), "unsplit");

        Assert.Equal("cpu,cpu", split.Info.Device);
        Assert.Equal("cpu layers 0-0; cpu layers 1-2", split.Info.Pipeline);
        Assert.Equal(split.Info, WorkerProtoMapping.FromProto(WorkerProtoMapping.ToProto(split.Info)));
        Assert.Null(unsplit.Info.Pipeline);
        Assert.False(WorkerProtoMapping.ToProto(unsplit.Info).HasPipeline);
        Assert.Equal(unsplit.Info, WorkerProtoMapping.FromProto(WorkerProtoMapping.ToProto(unsplit.Info)));
    }
}
