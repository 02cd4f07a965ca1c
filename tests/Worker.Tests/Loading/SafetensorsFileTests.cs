using Inference.Worker.Loading;
using TorchSharp;
using static TorchSharp.torch;

namespace Inference.Worker.Tests.Loading;

public sealed class SafetensorsFileTests
{
    [Fact]
    public void ReadTensor_F32RoundTrip_ValuesEqual()
    {
        using var dir = new TempDirectory();
        var path = dir.File("a.safetensors");
        using var weight = torch.randn(3, 5);
        using var bias = torch.arange(7, dtype: ScalarType.Float32);

        SafetensorsWriter.Write(path, [("w", weight), ("b", bias)]);
        using var file = SafetensorsFile.Open(path);
        using var w = file.ReadTensor("w");
        using var b = file.ReadTensor("b");

        Assert.Equal(ScalarType.Float32, w.dtype);
        Assert.Equal(new long[] { 3, 5 }, w.shape);
        TensorAssert.Equal(weight, w);
        TensorAssert.Equal(bias, b);
        Assert.Equal(["w", "b"], file.Tensors.Select(t => t.Name));
    }

    [Fact]
    public void ReadTensor_F16RoundTrip_ValuesEqualAfterCastAndClose()
    {
        using var dir = new TempDirectory();
        var path = dir.File("a.safetensors");
        using var original = torch.randn(4, 6);

        SafetensorsWriter.Write(path, [("w", original)], "F16");
        using var file = SafetensorsFile.Open(path);
        using var read = file.ReadTensor("w");
        using var expected = original.to(ScalarType.Float16);
        using var readFloat = read.to(ScalarType.Float32);

        Assert.Equal("F16", file.GetInfo("w").Dtype);
        Assert.Equal(ScalarType.Float16, read.dtype);
        TensorAssert.Equal(expected, read);
        Assert.True(readFloat.allclose(original, rtol: 1e-3, atol: 1e-3));
    }

    [Fact]
    public void ReadTensor_Bf16ExactlyRepresentableValues_CompareExactly()
    {
        using var dir = new TempDirectory();
        var path = dir.File("a.safetensors");
        float[] values = [1.5f, -2.25f, 0.0078125f, 1024f, -0.5f, 3f];
        using var original = torch.tensor(values).reshape(2, 3);

        SafetensorsWriter.Write(path, [("w", original)], "BF16");
        using var file = SafetensorsFile.Open(path);
        using var read = file.ReadTensor("w");
        using var readFloat = read.to(ScalarType.Float32);

        Assert.Equal(ScalarType.BFloat16, read.dtype);
        Assert.Equal(values, readFloat.data<float>().ToArray());
    }

    [Fact]
    public void Open_WrittenFile_HeaderPaddedToEightBytesAndMetadataPreserved()
    {
        using var dir = new TempDirectory();
        var path = dir.File("a.safetensors");
        using var t = torch.ones(3);
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "π ok" };

        SafetensorsWriter.Write(path, [("x", t)], metadata: metadata);
        using var file = SafetensorsFile.Open(path);
        var headerLength = BitConverter.ToUInt64(File.ReadAllBytes(path), 0);

        Assert.Equal(0UL, headerLength % 8);
        Assert.Equal(metadata, file.Metadata);
        Assert.Equal(12, file.DataLength);
    }

    [Fact]
    public void ReadTensor_ScalarAndEmptyTensors_RoundTrip()
    {
        using var dir = new TempDirectory();
        var path = dir.File("a.safetensors");
        using var scalar = torch.tensor(2.5f);
        using var empty = torch.zeros(0, 4);

        SafetensorsWriter.Write(path, [("s", scalar), ("e", empty)]);
        using var file = SafetensorsFile.Open(path);
        using var s = file.ReadTensor("s");
        using var e = file.ReadTensor("e");

        Assert.Empty(s.shape);
        Assert.Equal(2.5f, s.item<float>());
        Assert.Equal(new long[] { 0, 4 }, e.shape);
    }

    [Fact]
    public void Open_FileShorterThanEightBytes_ThrowsNamingFile()
    {
        using var dir = new TempDirectory();
        var path = dir.File("short.safetensors");
        File.WriteAllBytes(path, [1, 2, 3]);

        var ex = Assert.Throws<ModelLoadException>(() => SafetensorsFile.Open(path));

        Assert.Contains("short.safetensors", ex.Message);
        Assert.Contains("shorter than the 8-byte header length", ex.Message);
    }

    [Fact]
    public void Open_GarbageHeaderLength_ThrowsLargerThanFile()
    {
        using var dir = new TempDirectory();
        var path = dir.File("garbage.safetensors");
        RawSafetensors.Write(path, 0xDEADBEEF_DEADBEEF, "{}"u8.ToArray(), 0);

        var ex = Assert.Throws<ModelLoadException>(() => SafetensorsFile.Open(path));

        Assert.Contains("garbage.safetensors", ex.Message);
        Assert.Contains("larger than the file", ex.Message);
    }

    [Fact]
    public void Open_HeaderNotJson_ThrowsNamingFile()
    {
        using var dir = new TempDirectory();
        var path = dir.File("bad.safetensors");
        RawSafetensors.Write(path, "this is not json", 0);

        var ex = Assert.Throws<ModelLoadException>(() => SafetensorsFile.Open(path));

        Assert.Contains("bad.safetensors", ex.Message);
        Assert.Contains("not valid UTF-8 JSON", ex.Message);
    }

    [Fact]
    public void Open_HeaderInvalidUtf8_ThrowsNamingFile()
    {
        using var dir = new TempDirectory();
        var path = dir.File("bad.safetensors");
        RawSafetensors.Write(path, 4, [(byte)'{', 0xC3, 0x28, (byte)'}'], 0);

        var ex = Assert.Throws<ModelLoadException>(() => SafetensorsFile.Open(path));

        Assert.Contains("bad.safetensors", ex.Message);
        Assert.Contains("invalid UTF-8", ex.Message);
    }

    [Fact]
    public void Open_HeaderIsJsonArray_ThrowsExpectedObject()
    {
        using var dir = new TempDirectory();
        var path = dir.File("array.safetensors");
        RawSafetensors.Write(path, "[1, 2, 3]", 0);

        var ex = Assert.Throws<ModelLoadException>(() => SafetensorsFile.Open(path));

        Assert.Contains("array.safetensors", ex.Message);
        Assert.Contains("must be a JSON object", ex.Message);
    }

    [Theory]
    [InlineData("""{"w":{"shape":[2],"data_offsets":[0,8]}}""", "no \"dtype\"")]
    [InlineData("""{"w":{"dtype":"F32","data_offsets":[0,8]}}""", "no \"shape\"")]
    [InlineData("""{"w":{"dtype":"F32","shape":[2]}}""", "no \"data_offsets\"")]
    [InlineData("""{"w":{"dtype":5,"shape":[2],"data_offsets":[0,8]}}""", "\"dtype\" must be a string")]
    [InlineData("""{"w":{"dtype":"F32","shape":"2","data_offsets":[0,8]}}""", "\"shape\" must be an array")]
    [InlineData("""{"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}""", "\"shape\" must hold non-negative integers")]
    [InlineData("""{"w":{"dtype":"F32","shape":[2],"data_offsets":[0]}}""", "must be [begin, end]")]
    [InlineData("""{"w":[1,2]}""", "entry must be an object")]
    public void Open_MalformedEntry_ThrowsNamingFileAndTensor(string header, string expected)
    {
        using var dir = new TempDirectory();
        var path = dir.File("entry.safetensors");
        RawSafetensors.Write(path, header, 8);

        var ex = Assert.Throws<ModelLoadException>(() => SafetensorsFile.Open(path));

        Assert.Contains("entry.safetensors: w: ", ex.Message);
        Assert.Contains(expected, ex.Message);
        Assert.Equal("w", ex.Field);
    }

    [Fact]
    public void Open_MetadataValueNotString_ThrowsNamingKey()
    {
        using var dir = new TempDirectory();
        var path = dir.File("meta.safetensors");
        RawSafetensors.Write(path, """{"__metadata__":{"step":5}}""", 0);

        var ex = Assert.Throws<ModelLoadException>(() => SafetensorsFile.Open(path));

        Assert.Contains("meta.safetensors: __metadata__.step", ex.Message);
    }

    [Fact]
    public void Open_UnknownDtype_ThrowsNamingDtypeAndSupported()
    {
        using var dir = new TempDirectory();
        var path = dir.File("dt.safetensors");
        RawSafetensors.Write(path, """{"w":{"dtype":"Q4_K","shape":[2],"data_offsets":[0,8]}}""", 8);

        var ex = Assert.Throws<ModelLoadException>(() => SafetensorsFile.Open(path));

        Assert.Contains("dt.safetensors: w: dtype Q4_K is not supported (supported: F32, F16, BF16)", ex.Message);
    }

    [Theory]
    [InlineData("I64", 8)]
    [InlineData("U8", 1)]
    [InlineData("F8_E4M3", 1)]
    public void ReadTensor_KnownButUnsupportedDtype_ThrowsNamingDtype(string dtype, int elementSize)
    {
        using var dir = new TempDirectory();
        var path = dir.File("dt.safetensors");
        var bytes = 3 * elementSize;
        RawSafetensors.Write(path, $$$"""{"ids":{"dtype":"{{{dtype}}}","shape":[3],"data_offsets":[0,{{{bytes}}}]}}""", bytes);
        using var file = SafetensorsFile.Open(path);

        var ex = Assert.Throws<ModelLoadException>(() => file.ReadTensor("ids"));

        Assert.Contains($"dt.safetensors: ids: dtype {dtype} is not supported (supported: F32, F16, BF16)", ex.Message);
    }

    [Fact]
    public void Open_DataOffsetsNotMatchingShape_ThrowsWithBothSizes()
    {
        using var dir = new TempDirectory();
        var path = dir.File("size.safetensors");
        RawSafetensors.Write(path, """{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}}""", 24);

        var ex = Assert.Throws<ModelLoadException>(() => SafetensorsFile.Open(path));

        Assert.Contains("size.safetensors: w: ", ex.Message);
        Assert.Contains("span 20 bytes but shape [2, 3] of F32 needs 24", ex.Message);
    }

    [Fact]
    public void Open_TruncatedFile_ThrowsNamingTensorAndPresentBytes()
    {
        using var dir = new TempDirectory();
        var path = dir.File("model.safetensors");
        using var a = torch.ones(4);
        using var b = torch.ones(4);
        SafetensorsWriter.Write(path, [("a", a), ("b", b)]);
        using (var stream = new FileStream(path, FileMode.Open))
        {
            stream.SetLength(stream.Length - 6);
        }

        var ex = Assert.Throws<ModelLoadException>(() => SafetensorsFile.Open(path));

        Assert.Contains("model.safetensors: b: file is truncated: tensor b needs bytes [16,32) of the data section but only 26 are present", ex.Message);
    }

    [Fact]
    public void Open_OverlappingTensors_ThrowsNamingBoth()
    {
        using var dir = new TempDirectory();
        var path = dir.File("overlap.safetensors");
        RawSafetensors.Write(path,
            """{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}""", 16);

        var ex = Assert.Throws<ModelLoadException>(() => SafetensorsFile.Open(path));

        Assert.Contains("overlap.safetensors: b: ", ex.Message);
        Assert.Contains("overlap tensor a", ex.Message);
    }

    [Fact]
    public void ReadTensor_UnknownName_ThrowsNamingTensor()
    {
        using var dir = new TempDirectory();
        var path = dir.File("a.safetensors");
        using var t = torch.ones(2);
        SafetensorsWriter.Write(path, [("x", t)]);
        using var file = SafetensorsFile.Open(path);

        var ex = Assert.Throws<ModelLoadException>(() => file.ReadTensor("y"));

        Assert.Contains("a.safetensors: y: no such tensor", ex.Message);
    }

    [Fact]
    public void Open_MissingFile_ThrowsNamingFile()
    {
        using var dir = new TempDirectory();

        var ex = Assert.Throws<ModelLoadException>(() => SafetensorsFile.Open(dir.File("none.safetensors")));

        Assert.Contains("none.safetensors: file not found", ex.Message);
    }

    [Fact]
    public void Write_UnsupportedDtype_ThrowsArgumentException()
    {
        using var dir = new TempDirectory();
        using var t = torch.ones(2);

        var ex = Assert.Throws<ArgumentException>(() => SafetensorsWriter.Write(dir.File("a.safetensors"), [("x", t)], "I64"));

        Assert.Contains("I64", ex.Message);
    }
}
