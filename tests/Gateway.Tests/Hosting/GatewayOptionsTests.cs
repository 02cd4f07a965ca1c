using Inference.Gateway.Hosting;

namespace Inference.Gateway.Tests.Hosting;

public sealed class GatewayOptionsTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(-3)]
    public void Validate_ReplicasBelowOne_RefusedNamingTheSetting(int replicas)
    {
        var options = new GatewayOptions { Redis = "127.0.0.1:6379", Replicas = replicas };

        var error = Assert.Throws<ArgumentException>(() => options.Validate(workersSupplied: true));

        Assert.Equal($"--replicas (Gateway:Replicas) must be at least 1, got {replicas}.", error.Message);
    }
}
