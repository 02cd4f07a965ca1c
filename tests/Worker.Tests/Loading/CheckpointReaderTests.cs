using System.Text.Json;
using Inference.Worker.Loading;
using TorchSharp;
using static TorchSharp.torch;

namespace Inference.Worker.Tests.Loading;

public sealed class CheckpointReaderTests
{
    [Theory]
    [InlineData("F32")]
    [InlineData("F16")]
    [InlineData("BF16")]
    public void Read_SingleFile_CastsToRequestedDtype(string fileDtype)
    {
        using var dir = new TempDirectory();
        using var original = torch.tensor(new[] { 0.5f, -1.25f, 2f, 96f, -0.125f, 7f }).reshape(3, 2);
        SafetensorsWriter.Write(dir.File("model.safetensors"), [("w", original)], fileDtype);
        using var reader = CheckpointReader.Open(dir.Path);

        using var w = reader.Read("w", [3, 2], ScalarType.Float32, torch.CPU);

        Assert.Equal(ScalarType.Float32, w.dtype);
        TensorAssert.Equal(original, w);
    }

    [Fact]
    public void Read_F32FileAsBf16_ReturnsBf16()
    {
        using var dir = new TempDirectory();
        using var original = torch.randn(4, 4);
        SafetensorsWriter.Write(dir.File("model.safetensors"), [("w", original)]);
        using var reader = CheckpointReader.Open(dir.Path);

        using var w = reader.Read("w", [4, 4], ScalarType.BFloat16, torch.CPU);
        using var expected = original.to(ScalarType.BFloat16);

        Assert.Equal(ScalarType.BFloat16, w.dtype);
        TensorAssert.Equal(expected, w);
    }

    [Fact]
    public void Open_Sharded_ReadsEveryTensorFromItsShard()
    {
        using var dir = new TempDirectory();
        var tensors = Enumerable.Range(0, 5).Select(i => ($"layer{i}.weight", torch.randn(i + 1, 3))).ToList();
        SafetensorsWriter.WriteSharded(dir.Path, tensors, shards: 3);

        using var reader = CheckpointReader.Open(dir.Path);

        Assert.EndsWith("model.safetensors.index.json", reader.WeightsFile);
        Assert.True(File.Exists(dir.File("model-00001-of-00003.safetensors")));
        Assert.True(File.Exists(dir.File("model-00003-of-00003.safetensors")));
        foreach (var (name, expected) in tensors)
        {
            using var actual = reader.Read(name, expected.shape, ScalarType.Float32, torch.CPU);
            TensorAssert.Equal(expected, actual);
        }

        reader.EnsureAllRead();
        foreach (var (_, t) in tensors)
        {
            t.Dispose();
        }
    }

    [Fact]
    public void WriteSharded_Index_HasTotalSizeAndEveryTensor()
    {
        using var dir = new TempDirectory();
        using var a = torch.ones(10);
        using var b = torch.ones(2, 3);
        SafetensorsWriter.WriteSharded(dir.Path, [("a", a), ("b", b)], shards: 2, dtype: "BF16");

        using var index = JsonDocument.Parse(File.ReadAllText(dir.File("model.safetensors.index.json")));
        var root = index.RootElement;

        Assert.Equal((10 + 6) * 2, root.GetProperty("metadata").GetProperty("total_size").GetInt64());
        Assert.Equal("model-00001-of-00002.safetensors", root.GetProperty("weight_map").GetProperty("a").GetString());
        Assert.Equal("model-00002-of-00002.safetensors", root.GetProperty("weight_map").GetProperty("b").GetString());
    }

    [Fact]
    public void Read_MissingTensor_ThrowsNamingFileTensorAndExpectedShape()
    {
        using var dir = new TempDirectory();
        using var t = torch.ones(2);
        SafetensorsWriter.Write(dir.File("model.safetensors"), [("x", t)]);
        using var reader = CheckpointReader.Open(dir.Path);

        var ex = Assert.Throws<ModelLoadException>(() => reader.Read("lm_head.weight", [32, 8], ScalarType.Float32, torch.CPU));

        Assert.Contains("model.safetensors: lm_head.weight: missing tensor lm_head.weight (expected shape [32, 8])", ex.Message);
    }

    [Fact]
    public void Read_ShapeMismatch_ThrowsWithBothShapes()
    {
        using var dir = new TempDirectory();
        using var t = torch.ones(4, 8);
        SafetensorsWriter.Write(dir.File("model.safetensors"), [("q_proj.weight", t)]);
        using var reader = CheckpointReader.Open(dir.Path);

        var ex = Assert.Throws<ModelLoadException>(() => reader.Read("q_proj.weight", [8, 4], ScalarType.Float32, torch.CPU));

        Assert.Contains("model.safetensors: q_proj.weight: shape [4, 8] does not match the expected shape [8, 4]", ex.Message);
    }

    [Fact]
    public void EnsureAllRead_ExtraTensors_ThrowsListingThemAndCount()
    {
        using var dir = new TempDirectory();
        var tensors = Enumerable.Range(0, 13).Select(i => ($"extra{i:D2}", torch.ones(1))).ToList();
        using var used = torch.ones(1);
        tensors.Add(("used", used));
        SafetensorsWriter.Write(dir.File("model.safetensors"), tensors);
        using var reader = CheckpointReader.Open(dir.Path);
        reader.Read("used", [1], ScalarType.Float32, torch.CPU).Dispose();

        var ex = Assert.Throws<ModelLoadException>(() => reader.EnsureAllRead());

        Assert.Contains("model.safetensors: 13 unexpected tensor(s)", ex.Message);
        Assert.Contains("extra00, extra01", ex.Message);
        Assert.Contains("extra09", ex.Message);
        Assert.DoesNotContain("extra10", ex.Message);
        Assert.Contains("and 3 more", ex.Message);
        Assert.DoesNotContain("used", ex.Message);
    }

    [Fact]
    public void EnsureAllRead_RotaryInvFreqAndIgnoredNames_DoesNotThrow()
    {
        using var dir = new TempDirectory();
        using var a = torch.ones(1);
        using var b = torch.ones(1);
        SafetensorsWriter.Write(dir.File("model.safetensors"),
            [("model.layers.0.self_attn.rotary_emb.inv_freq", a), ("lm_head.weight", b)]);
        using var reader = CheckpointReader.Open(dir.Path);

        reader.EnsureAllRead(name => name == "lm_head.weight");

        var ex = Assert.Throws<ModelLoadException>(() => reader.EnsureAllRead());
        Assert.Contains("lm_head.weight", ex.Message);
        Assert.DoesNotContain("inv_freq", ex.Message);
    }

    [Fact]
    public void Open_NoWeightsFile_ThrowsNamingFolder()
    {
        using var dir = new TempDirectory();

        var ex = Assert.Throws<ModelLoadException>(() => CheckpointReader.Open(dir.Path));

        Assert.Contains(dir.Path, ex.Message);
        Assert.Contains("no model.safetensors or model.safetensors.index.json", ex.Message);
    }

    [Fact]
    public void Open_MissingShard_ThrowsNamingIndexAndShard()
    {
        using var dir = new TempDirectory();
        using var a = torch.ones(2);
        using var b = torch.ones(2);
        SafetensorsWriter.WriteSharded(dir.Path, [("a", a), ("b", b)], shards: 2);
        File.Delete(dir.File("model-00002-of-00002.safetensors"));

        var ex = Assert.Throws<ModelLoadException>(() => CheckpointReader.Open(dir.Path));

        Assert.Contains("model.safetensors.index.json: weight_map.b: shard model-00002-of-00002.safetensors is missing", ex.Message);
    }

    [Fact]
    public void Open_IndexListsTensorAbsentFromShard_ThrowsNamingShardAndTensor()
    {
        using var dir = new TempDirectory();
        using var a = torch.ones(2);
        SafetensorsWriter.Write(dir.File("shard.safetensors"), [("a", a)]);
        File.WriteAllText(dir.File("model.safetensors.index.json"),
            """{"metadata":{},"weight_map":{"a":"shard.safetensors","ghost":"shard.safetensors"}}""");

        var ex = Assert.Throws<ModelLoadException>(() => CheckpointReader.Open(dir.Path));

        Assert.Contains("shard.safetensors: ghost: listed in model.safetensors.index.json but absent from shard", ex.Message);
    }

    [Fact]
    public void Open_IndexShardOutsideFolder_Throws()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("model.safetensors.index.json"), """{"weight_map":{"a":"../other.safetensors"}}""");

        var ex = Assert.Throws<ModelLoadException>(() => CheckpointReader.Open(dir.Path));

        Assert.Contains("model.safetensors.index.json: weight_map.a: expected a shard file name", ex.Message);
    }

    [Fact]
    public void Open_IndexWithoutWeightMap_Throws()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("model.safetensors.index.json"), """{"metadata":{}}""");

        var ex = Assert.Throws<ModelLoadException>(() => CheckpointReader.Open(dir.Path));

        Assert.Contains("model.safetensors.index.json: weight_map: missing", ex.Message);
    }

    [Fact]
    public void Read_EachTensor_ReportsIncreasingProgressEndingAtTotal()
    {
        using var dir = new TempDirectory();
        using var a = torch.ones(10);
        using var b = torch.ones(3, 4);
        using var c = torch.ones(5);
        SafetensorsWriter.WriteSharded(dir.Path, [("a", a), ("b", b), ("c", c)], shards: 2, dtype: "F16");
        var progress = new RecordingProgress();
        using var reader = CheckpointReader.Open(dir.Path, progress);

        foreach (var (name, shape) in new[] { ("a", new long[] { 10 }), ("b", [3, 4]), ("c", [5]) })
        {
            reader.Read(name, shape, ScalarType.Float32, torch.CPU).Dispose();
        }

        Assert.Equal(3, progress.Reports.Count);
        Assert.Equal([20L, 44L, 54L], progress.Reports.Select(p => p.BytesRead));
        Assert.All(progress.Reports, p => Assert.Equal(54, p.TotalBytes));
        Assert.All(progress.Reports, p => Assert.Equal(3, p.TotalTensors));
        Assert.Equal([1, 2, 3], progress.Reports.Select(p => p.TensorsRead));
        Assert.Equal(["a", "b", "c"], progress.Reports.Select(p => p.CurrentTensor));
    }

    [Fact]
    public void Read_SameTensorTwice_CountsItsBytesOnce()
    {
        using var dir = new TempDirectory();
        using var a = torch.ones(4);
        using var b = torch.ones(4);
        SafetensorsWriter.Write(dir.File("model.safetensors"), [("a", a), ("b", b)]);
        var progress = new RecordingProgress();
        using var reader = CheckpointReader.Open(dir.Path, progress);

        reader.Read("a", [4], ScalarType.Float32, torch.CPU).Dispose();
        reader.Read("a", [4], ScalarType.Float32, torch.CPU).Dispose();

        Assert.Equal(16, progress.Reports[^1].BytesRead);
        Assert.Equal(1, progress.Reports[^1].TensorsRead);
    }

    [Fact]
    public void Contains_ListedAndUnlistedNames_ReportsPresence()
    {
        using var dir = new TempDirectory();
        using var a = torch.ones(2);
        SafetensorsWriter.Write(dir.File("model.safetensors"), [("a", a)]);
        using var reader = CheckpointReader.Open(dir.Path);

        Assert.True(reader.Contains("a"));
        Assert.False(reader.Contains("b"));
    }
}
