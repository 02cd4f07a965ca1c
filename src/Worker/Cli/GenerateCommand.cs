using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Inference.Scheduler;
using Inference.Worker.Engine;
using Inference.Worker.Loading;
using Inference.Worker.Runtime;
using Inference.Worker.Sampling;
using Inference.Worker.Tokenization;

namespace Inference.Worker.Cli;

/// <summary>`generate`: loads a model folder and streams one completion to stdout.</summary>
internal static class GenerateCommand
{
    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = $"Hugging Face model folder (default: the bundled {BundledModelLocator.RelativePath})" };
        var prompt = new Option<string?>("--prompt") { Description = "Prompt text" };
        var promptIds = new Option<string?>("--prompt-ids") { Description = "Prompt as comma-separated token ids (bypasses the tokenizer)" };
        var chat = new Option<bool>("--chat") { Description = "Wrap the prompt as a user message with the model's chat template" };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Most tokens to generate", DefaultValueFactory = _ => 64 };
        var minTokens = new Option<int>("--min-tokens") { Description = "Fewest tokens to generate before EOS, a stop id or a stop string may end the text", DefaultValueFactory = _ => 0 };
        var temperature = new Option<float>("--temperature") { Description = "0 = greedy", DefaultValueFactory = _ => 0.7f };
        var topP = new Option<float>("--top-p") { DefaultValueFactory = _ => 1f };
        var topK = new Option<int>("--top-k") { DefaultValueFactory = _ => 0 };
        var minP = new Option<float>("--min-p") { DefaultValueFactory = _ => 0f };
        var repetition = new Option<float>("--repetition-penalty") { DefaultValueFactory = _ => 1f };
        var presence = new Option<float>("--presence-penalty") { DefaultValueFactory = _ => 0f };
        var frequency = new Option<float>("--frequency-penalty") { DefaultValueFactory = _ => 0f };
        var seed = new Option<ulong?>("--seed") { Description = "Seed for reproducible sampling" };
        var logprobs = new Option<int?>("--logprobs") { Description = "Top-K alternatives to report per token (with --json)" };
        var ignoreEos = new Option<bool>("--ignore-eos");
        var json = new Option<bool>("--json") { Description = "Print one JSON line per token (id, text, logprobs)" };
        var stop = new Option<string[]>("--stop") { Description = "Stop string (repeatable); the text ends before it", AllowMultipleArgumentsPerToken = false };
        var device = new Option<string>("--device") { Description = "cpu, cuda or cuda:N; a list (cuda:0,cuda:1) splits the layers across the devices, one pipeline stage each", DefaultValueFactory = _ => "cpu" };
        var pipelineLayers = new Option<string?>("--pipeline-layers") { Description = "Decoder layers per pipeline stage, one count per --device entry, e.g. 12,20 (default: an even split)" };
        var dtype = new Option<string>("--dtype") { Description = "auto, float32, float16 or bfloat16", DefaultValueFactory = _ => "auto" };
        var kvMemory = new Option<string?>("--kv-cache-memory") { Description = "KV cache budget per device, e.g. 512MiB (default 1GiB on CPU, 90% of free memory on CUDA)" };
        var maxModelLen = new Option<int?>("--max-model-len") { Description = "Longest prompt + output (default: max_position_embeddings)" };
        var chatTemplate = new Option<string?>("--chat-template") { Description = "llama2, llama3, chatml or mistral (overrides detection)" };

        var command = new Command("generate", "Generate a completion from a model folder and stream it to stdout")
        {
            model, prompt, promptIds, chat, maxTokens, minTokens, temperature, topP, topK, minP, repetition, presence, frequency,
            seed, logprobs, ignoreEos, json, stop, device, pipelineLayers, dtype, kvMemory, maxModelLen, chatTemplate,
        };

        command.SetAction(async (parse, cancellationToken) =>
        {
            string? modelDir = parse.GetValue(model) ?? BundledModelLocator.Find();
            if (modelDir is null)
            {
                Console.Error.WriteLine($"error: --model was not given and no {BundledModelLocator.RelativePath} was found above {Environment.CurrentDirectory} or {AppContext.BaseDirectory}.");
                return 2;
            }

            var options = new WorkerOptions
            {
                ModelDir = modelDir,
                Device = parse.GetValue(device)!,
                PipelineLayers = parse.GetValue(pipelineLayers),
                Dtype = parse.GetValue(dtype)!,
                KvCacheMemory = parse.GetValue(kvMemory),
                MaxModelLength = parse.GetValue(maxModelLen),
                ChatTemplate = parse.GetValue(chatTemplate),
            };
            var sampling = new SamplingParams
            {
                MaxTokens = parse.GetValue(maxTokens),
                MinTokens = parse.GetValue(minTokens),
                Temperature = parse.GetValue(temperature),
                TopP = parse.GetValue(topP),
                TopK = parse.GetValue(topK),
                MinP = parse.GetValue(minP),
                RepetitionPenalty = parse.GetValue(repetition),
                PresencePenalty = parse.GetValue(presence),
                FrequencyPenalty = parse.GetValue(frequency),
                Seed = parse.GetValue(seed),
                Logprobs = parse.GetValue(logprobs),
                IgnoreEos = parse.GetValue(ignoreEos),
            };
            string[] stops = parse.GetValue(stop) ?? [];
            return await RunAsync(options, sampling, stops, parse.GetValue(prompt), parse.GetValue(promptIds), parse.GetValue(chat), parse.GetValue(json), cancellationToken);
        });
        return command;
    }

    private static async Task<int> RunAsync(
        WorkerOptions options, SamplingParams sampling, string[] stops, string? promptText, string? promptIds, bool chat, bool json, CancellationToken cancellationToken)
    {
        if ((promptText is null) == (promptIds is null))
        {
            Console.Error.WriteLine("error: give exactly one of --prompt or --prompt-ids.");
            return 2;
        }

        try
        {
            var loadClock = Stopwatch.StartNew();
            using ModelRuntime runtime = ModelRuntime.Load(options, new ConsoleLoadProgress());
            Console.Error.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"Loaded {runtime.Config.ArchitectureName} from {options.ModelDir} in {loadClock.Elapsed.TotalSeconds:F1}s: {runtime.Model.WeightBytes / 1e6:F1} MB of {runtime.Model.Dtype} weights on {(runtime.Model.Stages.Count == 1 ? runtime.Model.Device.ToString() : Models.PipelineStage.Describe(runtime.Model.Stages))}, KV cache {runtime.Cache.NumBlocks} blocks x {runtime.Cache.BlockSize} tokens ({runtime.Cache.TotalBytes / 1e6:F0} MB)."));

            ModelTokenizer tokenizer = runtime.Tokenizer;
            int[] prompt = promptIds is not null ? ParseIds(promptIds) : Encode(tokenizer, promptText!, chat);
            using var engine = new EngineLoop(
                runtime,
                new EngineOptions { Scheduler = new SchedulerOptions { MaxNumBatchedTokens = options.MaxNumBatchedTokens } },
                TimeProvider.System,
                new Random());
            var request = new GenerationRequest { RequestId = "cli", PromptTokens = prompt, Sampling = sampling, StopStrings = stops };
            if (engine.Submit(request, out GenerationStream? stream) is Refusal refusal)
            {
                Console.Error.WriteLine(refusal.Param is null ? $"error: {refusal.Message}" : $"error: {refusal.Param}: {refusal.Message}");
                return 2;
            }

            using Stream stdout = Console.OpenStandardOutput();
            using var writer = new StreamWriter(stdout, new UTF8Encoding(false)) { AutoFlush = true };
            string finish = "length";
            string? failure = null;
            await foreach (GenerationDelta delta in stream!.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                if (delta.Usage is { } usage)
                {
                    if (json)
                    {
                        await writer.WriteLineAsync(FinalJson(finish, usage)).ConfigureAwait(false);
                    }
                    else
                    {
                        await writer.WriteLineAsync().ConfigureAwait(false);
                    }

                    double decodeSeconds = (usage.Total - usage.TimeToFirstToken).TotalSeconds;
                    double rate = usage.CompletionTokens > 1 && decodeSeconds > 0 ? (usage.CompletionTokens - 1) / decodeSeconds : 0;
                    Console.Error.WriteLine(string.Create(
                        CultureInfo.InvariantCulture,
                        $"[{usage.PromptTokens} prompt tokens ({usage.CachedPromptTokens} cached), {usage.CompletionTokens} generated, finish_reason={finish}; TTFT {usage.TimeToFirstToken.TotalMilliseconds:F0} ms, {rate:F1} tokens/s]"));
                    continue;
                }

                if (delta.Choice < 0)
                {
                    failure = delta.Error ?? delta.FinishReason.ToString();
                    continue;
                }

                if (delta.FinishReason != FinishReason.None)
                {
                    finish = delta.FinishReason == FinishReason.Stop ? "stop" : "length";
                }

                if (json && delta.TokenId >= 0)
                {
                    await writer.WriteLineAsync(TokenJson(tokenizer, delta)).ConfigureAwait(false);
                }
                else if (!json)
                {
                    await writer.WriteAsync(delta.Text).ConfigureAwait(false);
                }
            }

            if (failure is not null)
            {
                Console.Error.WriteLine($"error: {failure}");
                return 1;
            }

            return 0;
        }
        catch (ModelLoadException ex)
        {
            Console.Error.WriteLine($"error: {ex.Message}");
            return 1;
        }
        catch (InvalidParameterException ex)
        {
            Console.Error.WriteLine($"error: {ex.Param}: {ex.Message}");
            return 2;
        }
        catch (ArgumentException ex)
        {
            Console.Error.WriteLine($"error: {ex.Message}");
            return 2;
        }
    }

    private static int[] Encode(ModelTokenizer tokenizer, string text, bool chat)
    {
        if (!chat)
        {
            return tokenizer.Encode(text);
        }

        ChatTemplate template = tokenizer.ChatTemplate
            ?? throw new InvalidParameterException("chat", "this model declares no chat template; pass --chat-template.");

        // The rendered prompt already carries BOS where the family uses it.
        return tokenizer.Encode(template.Render([new ChatMessage("user", text)]), addSpecialTokens: false);
    }

    private static int[] ParseIds(string text)
    {
        string[] parts = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var ids = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out ids[i]))
            {
                throw new InvalidParameterException("prompt-ids", $"'{parts[i]}' is not a token id.");
            }
        }

        return ids;
    }

    private static string TokenJson(ModelTokenizer tokenizer, GenerationDelta delta)
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("id", delta.TokenId);
            w.WriteString("token", tokenizer.IdToToken(delta.TokenId));
            w.WriteString("text", delta.Text);
            if (!float.IsNaN(delta.Logprob))
            {
                w.WriteNumber("logprob", delta.Logprob);
                w.WriteStartArray("top_logprobs");
                foreach (TokenLogprob alt in delta.TopLogprobs ?? [])
                {
                    w.WriteStartObject();
                    w.WriteNumber("id", alt.TokenId);
                    w.WriteString("token", tokenizer.IdToToken(alt.TokenId));
                    w.WriteNumber("logprob", alt.Logprob);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
            }

            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    private static string FinalJson(string finish, RequestUsage usage)
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("finish_reason", finish);
            w.WriteStartObject("usage");
            w.WriteNumber("prompt_tokens", usage.PromptTokens);
            w.WriteNumber("completion_tokens", usage.CompletionTokens);
            w.WriteNumber("total_tokens", usage.PromptTokens + usage.CompletionTokens);
            w.WriteNumber("cached_tokens", usage.CachedPromptTokens);
            w.WriteEndObject();
            w.WriteNumber("queue_ms", Math.Round(usage.QueueTime.TotalMilliseconds, 1));
            w.WriteNumber("ttft_ms", Math.Round(usage.TimeToFirstToken.TotalMilliseconds, 1));
            w.WriteNumber("total_ms", Math.Round(usage.Total.TotalMilliseconds, 1));
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }
}
