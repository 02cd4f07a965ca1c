using Inference.Gateway.Keys;
using Inference.Gateway.Tests.Infrastructure;

namespace Inference.Gateway.Tests.Keys;

public sealed class ReloadingKeyStoreTests : IDisposable
{
    private const string A = "sk-test-reload-key-a-0001";
    private const string B = "sk-test-reload-key-b-0002";
    private readonly string _dir = Directory.CreateTempSubdirectory("reload-keys-").FullName;
    private readonly ManualTimeProvider _time = new();

    private string KeysPath => Path.Combine(_dir, "keys.json");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    internal static string KeysJson(params string[] keys) =>
        "{\n  \"tiers\": { \"basic\": { \"requests_per_minute\": 7 } },\n  \"keys\": [\n"
        + string.Join(",\n", keys.Select(k => $$"""    { "key": "{{k}}", "tenant": "acme", "tier": "basic" }"""))
        + "\n  ]\n}\n";

    [Fact]
    public async Task Reload_ChangedFile_SwapsWholeSet_UnchangedDoesNothing()
    {
        File.WriteAllText(KeysPath, KeysJson(A, B));
        ReloadingKeyStore store = ReloadingKeyStore.Load(KeysPath, _time);
        Assert.Equal(KeyFileReloadOutcome.Unchanged, store.Reload().Outcome);

        File.WriteAllText(KeysPath, KeysJson(B).Replace("\"requests_per_minute\": 7", "\"requests_per_minute\": 9", StringComparison.Ordinal));
        KeyFileReload reload = store.Reload();

        Assert.Equal((KeyFileReloadOutcome.Reloaded, 1), (reload.Outcome, reload.Keys));
        Assert.Null(await store.FindAsync(A, default).Within());
        ApiKey b = (await store.FindAsync(B, default).Within())!;
        Assert.Equal(9, (await store.ResolveAsync(b, default).Within()).Key.RequestsPerMinute); // tiers reload with the keys
        Assert.Equal(KeyFileReloadOutcome.Unchanged, store.Reload().Outcome);
    }

    [Fact]
    public async Task Reload_MalformedFile_KeepsOldKeys_RefusesOncePerContent_NamingTheLine()
    {
        File.WriteAllText(KeysPath, KeysJson(A, B));
        ReloadingKeyStore store = ReloadingKeyStore.Load(KeysPath, _time);
        File.WriteAllText(KeysPath, KeysJson(A).Replace("\"basic\" }\n  ]", "\"gold\" }\n  ]", StringComparison.Ordinal));

        KeyFileReload refused = store.Reload();

        Assert.Equal(KeyFileReloadOutcome.Refused, refused.Outcome);
        Assert.Equal(2, refused.Keys);
        Assert.Equal(4, refused.Error!.Line);
        Assert.Contains("(line 4)", refused.Error.Message);
        Assert.Contains(KeysPath, refused.Error.Message);
        Assert.NotNull(await store.FindAsync(A, default).Within());
        Assert.NotNull(await store.FindAsync(B, default).Within());
        Assert.Equal(KeyFileReloadOutcome.Unchanged, store.Reload().Outcome); // logged once, not on every poll

        File.WriteAllText(KeysPath, KeysJson(B));
        Assert.Equal(KeyFileReloadOutcome.Reloaded, store.Reload().Outcome);
        Assert.Null(await store.FindAsync(A, default).Within());
    }

    [Fact]
    public async Task Reload_FileGone_KeepsOldKeys_ThenReloadsWhenBack()
    {
        File.WriteAllText(KeysPath, KeysJson(A, B));
        ReloadingKeyStore store = ReloadingKeyStore.Load(KeysPath, _time);
        File.Delete(KeysPath);

        Assert.Equal(KeyFileReloadOutcome.Refused, store.Reload().Outcome);
        Assert.Equal(KeyFileReloadOutcome.Unchanged, store.Reload().Outcome);
        Assert.NotNull(await store.FindAsync(A, default).Within());

        File.WriteAllText(KeysPath, KeysJson(A));
        Assert.Equal(KeyFileReloadOutcome.Reloaded, store.Reload().Outcome);
        Assert.Null(await store.FindAsync(B, default).Within());
    }

    [Fact]
    public void Load_MalformedAtStart_Throws()
    {
        File.WriteAllText(KeysPath, "{ \"keys\": [ ");

        Assert.Throws<KeyFileException>(() => ReloadingKeyStore.Load(KeysPath, _time));
    }
}
