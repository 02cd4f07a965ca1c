using Inference.Gateway.Hosting;

namespace Inference.Gateway.Tests.Hosting;

public sealed class DataDirectoryTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("data-dir-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void Default_InsideAClone_IsDataAtTheClonesRoot()
    {
        string clone = Path.Combine(_root, "clone");
        string started = Path.Combine(clone, "src", "Gateway");
        Directory.CreateDirectory(started);
        File.WriteAllText(Path.Combine(clone, DataDirectory.RepositoryMarker), string.Empty);

        Assert.Equal(Path.Combine(clone, "data"), DataDirectory.Default(started));
        Assert.Equal(Path.Combine(clone, "data"), DataDirectory.Default(clone));
        Assert.False(Directory.Exists(Path.Combine(clone, "data"))); // resolving creates nothing
    }

    [Fact]
    public void Default_OutsideAnyClone_IsDataInTheCurrentDirectory()
    {
        string installed = Path.Combine(_root, "opt", "gateway");
        Directory.CreateDirectory(installed);

        Assert.Equal(Path.Combine(installed, "data"), DataDirectory.Default(installed));
    }

    [Fact]
    public void UsageLogPath_RelativeUnderDataDir_RootedAsGiven_NullDisabled()
    {
        string data = Path.Combine(_root, "d");

        Assert.Equal(Path.Combine(data, "usage.jsonl"), new GatewayOptions { DataDir = data }.UsageLogPath());
        Assert.Equal(Path.Combine(data, "logs", "u.jsonl"), new GatewayOptions { DataDir = data, UsageLog = "logs/u.jsonl" }.UsageLogPath());
        Assert.Equal("/var/log/u.jsonl", new GatewayOptions { DataDir = data, UsageLog = "/var/log/u.jsonl" }.UsageLogPath());
        Assert.Null(new GatewayOptions { DataDir = data, UsageLog = null }.UsageLogPath());
    }

    [Fact]
    public void UsageLogPath_NoDataDir_IsUnderTheDefaultDataFolder_NotTheCurrentDirectory()
    {
        string? path = new GatewayOptions().UsageLogPath();

        Assert.Equal(Path.Combine(DataDirectory.Default(), "usage.jsonl"), path);
        Assert.NotEqual(Path.Combine(Environment.CurrentDirectory, "usage.jsonl"), path);
    }
}
