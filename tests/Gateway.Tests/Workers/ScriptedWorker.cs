using System.Runtime.CompilerServices;
using Inference.Gateway.Workers;
using Inference.Worker.Engine;
using Inference.Worker.Serving;
using Inference.Worker.Tokenization;

namespace Inference.Gateway.Tests.Workers;

/// <summary>
/// A real worker seen through a script, to reach routing states on demand: a chosen load report, refusals
/// of the next requests, and a record of the requests it was given.
/// </summary>
internal sealed class ScriptedWorker : IWorker
{
    private readonly IWorker _inner;
    private readonly Queue<WorkerException> _refusals = new();

    public ScriptedWorker(string id, IWorker inner)
    {
        Id = id;
        _inner = inner;
    }

    public string Id { get; }

    public WorkerInfo? Info => _inner.Info;

    public WorkerState State { get; set; } = WorkerState.Ready;

    /// <summary>Overrides the inner worker's load report when set.</summary>
    public EngineStats? ScriptedLoad { get; set; }

    public EngineStats? Load => ScriptedLoad ?? _inner.Load;

    public DateTimeOffset LoadAt => _inner.LoadAt;

    public List<string> Served { get; } = [];

    public void RefuseNext(WorkerException refusal)
    {
        lock (_refusals)
        {
            _refusals.Enqueue(refusal);
        }
    }

    public Task<int[]> TokenizeAsync(string text, bool addSpecialTokens, CancellationToken cancellationToken) =>
        _inner.TokenizeAsync(text, addSpecialTokens, cancellationToken);

    public Task<int[]> ApplyChatTemplateAsync(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, IReadOnlyList<ChatTool>? tools, CancellationToken cancellationToken) =>
        _inner.ApplyChatTemplateAsync(messages, addGenerationPrompt, tools, cancellationToken);

    public Task<string> DetokenizeAsync(IReadOnlyList<int> ids, CancellationToken cancellationToken) =>
        _inner.DetokenizeAsync(ids, cancellationToken);

    public async IAsyncEnumerable<ServedEvent> GenerateAsync(GenerationRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await Task.Yield();
        lock (_refusals)
        {
            if (_refusals.TryDequeue(out WorkerException? refusal))
            {
                throw refusal;
            }

            Served.Add(request.RequestId);
        }

        await foreach (ServedEvent e in _inner.GenerateAsync(request, cancellationToken))
        {
            yield return e;
        }
    }

    /// <summary>How often it was disposed (the inner worker is its owner's).</summary>
    public int Disposals => Volatile.Read(ref _disposals);

    private int _disposals;

    public ValueTask DisposeAsync()
    {
        Interlocked.Increment(ref _disposals);
        return ValueTask.CompletedTask;
    }
}
