using Inference.Gateway.Keys;
using Microsoft.Extensions.Logging.Abstractions;

namespace Inference.Gateway.Tests.Keys;

/// <summary>The watcher's two triggers on their own: change events (no poll to speak of) and the poll (no events).</summary>
public sealed class KeyFileWatcherTests : IDisposable
{
    private const string A = "sk-test-watch-key-a-0001";
    private const string B = "sk-test-watch-key-b-0002";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(5);
    private readonly string _dir = Directory.CreateTempSubdirectory("watch-keys-").FullName;

    private string KeysPath => Path.Combine(_dir, "keys.json");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task PollOnly_FileRewritten_Reloaded()
    {
        File.WriteAllText(KeysPath, ReloadingKeyStoreTests.KeysJson(A, B));
        ReloadingKeyStore store = ReloadingKeyStore.Load(KeysPath, TimeProvider.System);
        using var watcher = new KeyFileWatcher(store, TimeProvider.System, NullLogger<KeyFileWatcher>.Instance, TimeSpan.FromMilliseconds(100), watchEvents: false);
        await watcher.StartAsync(CancellationToken.None);

        File.WriteAllText(KeysPath, ReloadingKeyStoreTests.KeysJson(B));

        await UntilAsync(() => store.Count == 1);
    }

    [Fact]
    public async Task EventsOnly_FileRenamedOver_Reloaded()
    {
        File.WriteAllText(KeysPath, ReloadingKeyStoreTests.KeysJson(A, B));
        ReloadingKeyStore store = ReloadingKeyStore.Load(KeysPath, TimeProvider.System);
        // A poll far beyond the deadline: only the directory watch can make this pass.
        using var watcher = new KeyFileWatcher(store, TimeProvider.System, NullLogger<KeyFileWatcher>.Instance, TimeSpan.FromHours(1));
        await watcher.StartAsync(CancellationToken.None);

        string temp = Path.Combine(_dir, ".keys.json.tmp");
        File.WriteAllText(temp, ReloadingKeyStoreTests.KeysJson(A));
        File.Move(temp, KeysPath, overwrite: true);

        await UntilAsync(() => store.Count == 1);
        Assert.Null(await store.FindAsync(B, default));
    }

    private static async Task UntilAsync(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(Deadline);
        while (!condition())
        {
            await Task.Delay(10, timeout.Token);
        }
    }
}
