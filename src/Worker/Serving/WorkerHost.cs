using System.Runtime.CompilerServices;
using System.Text;
using Inference.Scheduler;
using Inference.Worker.Engine;
using Inference.Worker.Gpu;
using Inference.Worker.Loading;
using Inference.Worker.Runtime;
using Inference.Worker.Tokenization;

namespace Inference.Worker.Serving;

/// <summary>
/// One loaded model and its engine loop, behind the operations a gateway needs: tokenize, render chat,
/// detokenize, generate (events with token texts), abort, stats. The in-process worker of the gateway and
/// the gRPC worker daemon both serve through this class, so they behave the same. Thread-safe.
/// </summary>
public sealed class WorkerHost : IDisposable
{
    private readonly ModelRuntime _runtime;
    private readonly EngineLoop _engine;
    private readonly GpuTelemetrySampler? _gpu;
    private volatile bool _draining;

    /// <param name="gpu">Telemetry of the worker's GPU, published with its stats; owned (disposed) by the host.</param>
    public WorkerHost(ModelRuntime runtime, EngineLoop engine, string modelName, TimeProvider time, GpuTelemetrySampler? gpu = null)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentException.ThrowIfNullOrWhiteSpace(modelName);
        ArgumentNullException.ThrowIfNull(time);
        _runtime = runtime;
        _engine = engine;
        _gpu = gpu;
        Info = new WorkerInfo
        {
            Model = modelName,
            MaxModelLength = runtime.Model.MaxModelLength,
            VocabSize = runtime.Config.VocabSize,
            Device = runtime.Options.Device,
            Pipeline = runtime.Model.Stages.Count > 1 ? Models.PipelineStage.Describe(runtime.Model.Stages) : null,
            BlockSize = runtime.Cache.BlockSize,
            KvBlocksTotal = runtime.Cache.NumBlocks,
            AdmissibleKvBlocks = engine.Admission.AdmissibleBlocks,
            ChatTemplate = runtime.Tokenizer.ChatTemplate?.Name,
            Created = time.GetUtcNow().ToUnixTimeSeconds(),
        };
    }

    /// <summary>Loads the model folder and starts the engine loop.</summary>
    public static WorkerHost Start(
        WorkerOptions options, EngineOptions engineOptions, string? servedModelName, IProgress<LoadProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(engineOptions);
        ModelRuntime runtime = ModelRuntime.Load(options, progress);
        GpuTelemetrySampler? gpu = null;
        try
        {
            gpu = GpuTelemetrySampler.ForDevice(options.Device, options.NvmlLibrary, TimeProvider.System);
            var engine = new EngineLoop(runtime, engineOptions, TimeProvider.System, new Random());
            string name = servedModelName ?? DefaultModelName(options.ModelDir);
            return new WorkerHost(runtime, engine, name, TimeProvider.System, gpu);
        }
        catch
        {
            gpu?.Dispose();
            runtime.Dispose();
            throw;
        }
    }

    /// <summary>The model folder's name, the default served model id.</summary>
    public static string DefaultModelName(string modelDir) =>
        Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(modelDir)));

    public WorkerInfo Info { get; }

    /// <summary>The engine's latest stats, with the GPU telemetry (sampled at most once a second) when the worker has some.</summary>
    public EngineStats Stats => _gpu is null ? _engine.Stats : _engine.Stats with { Gpu = _gpu.Current };

    /// <summary>The latest GPU telemetry; null on the CPU.</summary>
    public GpuTelemetry? Gpu => _gpu?.Current;

    public ModelRuntime Runtime => _runtime;

    public EngineLoop Engine => _engine;

    /// <summary>True once <see cref="Drain"/> was called: new requests are refused as Unavailable.</summary>
    public bool Draining => _draining;

    /// <summary>Stop taking new requests; running ones go on.</summary>
    public void Drain() => _draining = true;

    public int[] Tokenize(string text, bool addSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        return _runtime.Tokenizer.Encode(text, addSpecialTokens);
    }

    /// <summary>Renders the chat template and tokenizes the result (the template carries BOS itself).</summary>
    public int[] ApplyChatTemplate(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true, IReadOnlyList<ChatTool>? tools = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        ChatTemplate template = _runtime.Tokenizer.ChatTemplate
            ?? throw new WorkerException(RefusalKind.Invalid, $"model '{Info.Model}' has no chat template; use /v1/completions", "messages");
        string text;
        try
        {
            text = template.Render(messages, addGenerationPrompt, tools);
        }
        catch (ArgumentException ex)
        {
            throw new WorkerException(RefusalKind.Invalid, ex.Message, "messages");
        }
        catch (InvalidOperationException ex)
        {
            throw new WorkerException(RefusalKind.Invalid, ex.Message, "messages");
        }

        return _runtime.Tokenizer.Encode(text, addSpecialTokens: false);
    }

    public string Detokenize(IReadOnlyList<int> ids, bool skipSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(ids);
        int vocab = _runtime.Tokenizer.VocabSize;
        foreach (int id in ids)
        {
            if ((uint)id >= (uint)vocab)
            {
                throw new WorkerException(RefusalKind.Invalid, $"token id {id} is outside the vocabulary [0, {vocab})", "tokens");
            }
        }

        return _runtime.Tokenizer.Decode(ids.ToArray(), skipSpecialTokens);
    }

    /// <summary>
    /// Submits a request. Refusals throw <see cref="WorkerException"/> at once (before any event);
    /// enumerating the result streams its events, and abandoning the enumeration aborts it.
    /// </summary>
    public IAsyncEnumerable<ServedEvent> Generate(GenerationRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (_draining)
        {
            throw new WorkerException(RefusalKind.Unavailable, "the worker is draining");
        }

        return _engine.Submit(request, out GenerationStream? stream) is Refusal refusal
            ? throw new WorkerException(refusal)
            : Events(stream!, request.Sampling.Logprobs is not null, cancellationToken);
    }

    public void Abort(string requestId) => _engine.Abort(requestId);

    private async IAsyncEnumerable<ServedEvent> Events(
        GenerationStream stream, bool logprobs, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (GenerationDelta d in stream.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            ServedToken? sampled = null;
            ServedToken[]? top = null;
            if (logprobs && d.TokenId >= 0)
            {
                sampled = Token(d.TokenId, d.Logprob);
                if (d.TopLogprobs is { Length: > 0 } alternatives)
                {
                    top = new ServedToken[alternatives.Length];
                    for (int i = 0; i < alternatives.Length; i++)
                    {
                        top[i] = Token(alternatives[i].TokenId, alternatives[i].Logprob);
                    }
                }
            }

            yield return new ServedEvent
            {
                Choice = d.Choice,
                Text = d.Text,
                TokenId = d.TokenId,
                Sampled = sampled,
                TopLogprobs = top,
                Finish = d.FinishReason,
                StopString = d.StopString,
                Error = d.Error,
                Usage = d.Usage,
            };
        }
    }

    private ServedToken Token(int id, float logprob)
    {
        byte[] bytes = _runtime.Tokenizer.TokenBytes(id);
        return new ServedToken(id, Encoding.UTF8.GetString(bytes), bytes, logprob);
    }

    public void Dispose()
    {
        _draining = true;
        _engine.Dispose();
        _runtime.Dispose();
        _gpu?.Dispose();
    }
}
