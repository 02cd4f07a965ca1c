using System.Runtime.CompilerServices;
using Inference.Scheduler;
using Inference.Worker.Engine;
using Inference.Worker.Serving;
using Inference.Worker.Tokenization;

namespace Inference.Gateway.Workers;

/// <summary>The in-process worker: the single-machine default, no network hop.</summary>
public sealed class LocalWorker : IWorker
{
    private readonly WorkerHost _host;
    private readonly bool _ownsHost;
    private readonly TimeProvider _time;

    public LocalWorker(WorkerHost host, bool ownsHost = true, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(host);
        _host = host;
        _ownsHost = ownsHost;
        _time = time ?? TimeProvider.System;
    }

    public string Id => "local";

    public WorkerInfo? Info => _host.Info;

    public WorkerState State => _host.Draining ? WorkerState.Draining : WorkerState.Ready;

    public EngineStats? Load => _host.Stats;

    public DateTimeOffset LoadAt => _time.GetUtcNow(); // read straight from the loop, which publishes after every step: always current

    public Task<int[]> TokenizeAsync(string text, bool addSpecialTokens, CancellationToken cancellationToken) =>
        Task.FromResult(_host.Tokenize(text, addSpecialTokens));

    public Task<int[]> ApplyChatTemplateAsync(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, IReadOnlyList<ChatTool>? tools, CancellationToken cancellationToken) =>
        Task.FromResult(_host.ApplyChatTemplate(messages, addGenerationPrompt, tools));

    public Task<string> DetokenizeAsync(IReadOnlyList<int> ids, CancellationToken cancellationToken) =>
        Task.FromResult(_host.Detokenize(ids));

    public async IAsyncEnumerable<ServedEvent> GenerateAsync(
        GenerationRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await Task.Yield(); // refusals surface from the first MoveNextAsync, as with a remote worker
        await foreach (ServedEvent e in _host.Generate(request, cancellationToken).ConfigureAwait(false))
        {
            yield return e;
        }
    }

    public ValueTask DisposeAsync()
    {
        if (_ownsHost)
        {
            _host.Dispose();
        }

        return ValueTask.CompletedTask;
    }
}
