using System.Text.Json;
using Inference.Gateway.Metering;
using Inference.Gateway.Tests.Infrastructure;

namespace Inference.Gateway.Tests.Metering;

public sealed class JsonLinesUsageSinkTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("usage-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static UsageRecord Record(int i) => new(
        $"req-{i}", "0123456789abcdef", "acme", "brown-llama-5m", 10 + i, 20, 4,
        TimeSpan.FromMilliseconds(1.5), TimeSpan.FromMilliseconds(30), TimeSpan.FromSeconds(2),
        UsageStatus.Completed, "stop", "chat.completions", false, new DateTimeOffset(2026, 1, 15, 12, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task WriteAsync_Concurrent_OneValidJsonLinePerRecord()
    {
        var path = Path.Combine(_directory, "sub", "usage.jsonl");
        await using (var sink = new JsonLinesUsageSink(path))
        {
            await Task.WhenAll(Enumerable.Range(0, 200).Select(i => Task.Run(() => sink.WriteAsync(Record(i), default).AsTask()))).Within();
        }

        var lines = await File.ReadAllLinesAsync(path).Within();
        Assert.Equal(200, lines.Length);
        var ids = new HashSet<string>();
        foreach (var line in lines)
        {
            using var json = JsonDocument.Parse(line);
            ids.Add(json.RootElement.GetProperty("request_id").GetString()!);
        }

        Assert.Equal(200, ids.Count);
    }

    [Fact]
    public async Task WriteAsync_OneRecord_SnakeCaseFieldsAndFlushed()
    {
        var path = Path.Combine(_directory, "usage.jsonl");
        await using var sink = new JsonLinesUsageSink(path);

        await sink.WriteAsync(Record(1) with { QueueTime = null, ResponseCacheHit = true }, default).Within();

        // Readable before the sink is closed: flushed per record.
        using var reader = new StreamReader(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite));
        var line = await reader.ReadLineAsync().Within();
        using var json = JsonDocument.Parse(line!);
        var root = json.RootElement;
        Assert.Equal("req-1", root.GetProperty("request_id").GetString());
        Assert.Equal("0123456789abcdef", root.GetProperty("key_id").GetString());
        Assert.Equal("acme", root.GetProperty("tenant").GetString());
        Assert.Equal("brown-llama-5m", root.GetProperty("model").GetString());
        Assert.Equal(11, root.GetProperty("prompt_tokens").GetInt64());
        Assert.Equal(20, root.GetProperty("completion_tokens").GetInt64());
        Assert.Equal(4, root.GetProperty("cached_tokens").GetInt64());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("queue_time_ms").ValueKind);
        Assert.Equal(30, root.GetProperty("ttft_ms").GetDouble());
        Assert.Equal(2000, root.GetProperty("duration_ms").GetDouble());
        Assert.Equal("completed", root.GetProperty("status").GetString());
        Assert.Equal("stop", root.GetProperty("finish_reason").GetString());
        Assert.Equal("chat.completions", root.GetProperty("api").GetString());
        Assert.True(root.GetProperty("response_cache_hit").GetBoolean());
        Assert.Equal(new DateTimeOffset(2026, 1, 15, 12, 0, 0, TimeSpan.Zero), root.GetProperty("timestamp").GetDateTimeOffset());
    }

    [Fact]
    public async Task CompositeUsageSink_OneSinkFails_OthersStillWritten()
    {
        var path = Path.Combine(_directory, "usage.jsonl");
        await using var file = new JsonLinesUsageSink(path);
        var composite = new CompositeUsageSink(new FailingSink(), file);

        await Assert.ThrowsAsync<AggregateException>(() => composite.WriteAsync(Record(1), default).Within());

        Assert.Single(await File.ReadAllLinesAsync(path).Within());
    }

    private sealed class FailingSink : IUsageSink
    {
        public ValueTask WriteAsync(UsageRecord record, CancellationToken ct) => throw new IOException("disk full");
    }
}
