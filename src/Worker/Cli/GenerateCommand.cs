using Inference.Scheduler;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
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
        var model = new Option<string>("--model") { Description = "Hugging Face model folder", Required = true };
        var prompt = new Option<string?>("--prompt") { Description = "Prompt text" };
        var promptIds = new Option<string?>("--prompt-ids") { Description = "Prompt as comma-separated token ids (bypasses the tokenizer)" };
        var chat = new Option<bool>("--chat") { Description = "Wrap the prompt as a user message with the model's chat template" };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Most tokens to generate", DefaultValueFactory = _ => 64 };
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
        var device = new Option<string>("--device") { Description = "cpu, cuda or cuda:N", DefaultValueFactory = _ => "cpu" };
        var dtype = new Option<string>("--dtype") { Description = "auto, float32, float16 or bfloat16", DefaultValueFactory = _ => "auto" };
        var kvMemory = new Option<string?>("--kv-cache-memory") { Description = "KV cache budget, e.g. 512MiB (default 1GiB on CPU, 90% of free memory on CUDA)" };
        var maxModelLen = new Option<int?>("--max-model-len") { Description = "Longest prompt + output (default: max_position_embeddings)" };
        var chatTemplate = new Option<string?>("--chat-template") { Description = "llama2, llama3, chatml or mistral (overrides detection)" };

        var command = new Command("generate", "Generate a completion from a model folder and stream it to stdout")
        {
            model, prompt, promptIds, chat, maxTokens, temperature, topP, topK, minP, repetition, presence, frequency,
            seed, logprobs, ignoreEos, json, device, dtype, kvMemory, maxModelLen, chatTemplate,
        };

        command.SetAction(parse =>
        {
            var options = new WorkerOptions
            {
                ModelDir = parse.GetValue(model)!,
                Device = parse.GetValue(device)!,
                Dtype = parse.GetValue(dtype)!,
                KvCacheMemory = parse.GetValue(kvMemory),
                MaxModelLength = parse.GetValue(maxModelLen),
                ChatTemplate = parse.GetValue(chatTemplate),
            };
            var sampling = new SamplingParams
            {
                MaxTokens = parse.GetValue(maxTokens),
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
            return Run(options, sampling, parse.GetValue(prompt), parse.GetValue(promptIds), parse.GetValue(chat), parse.GetValue(json));
        });
        return command;
    }

    private static int Run(WorkerOptions options, SamplingParams sampling, string? promptText, string? promptIds, bool chat, bool json)
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
                $"Loaded {runtime.Config.ArchitectureName} from {options.ModelDir} in {loadClock.Elapsed.TotalSeconds:F1}s: {runtime.Model.WeightBytes / 1e6:F1} MB of {runtime.Model.Dtype} weights on {runtime.Model.Device}, KV cache {runtime.Cache.NumBlocks} blocks x {runtime.Cache.BlockSize} tokens ({runtime.Cache.TotalBytes / 1e6:F0} MB)."));

            ModelTokenizer tokenizer = runtime.Tokenizer;
            int[] prompt = promptIds is not null ? ParseIds(promptIds) : Encode(tokenizer, promptText!, chat);
            sampling.Validate(runtime.Config.VocabSize);
            foreach (int id in prompt)
            {
                if ((uint)id >= (uint)runtime.Config.VocabSize)
                {
                    throw new InvalidParameterException("prompt", $"prompt token id {id} is outside the vocabulary [0, {runtime.Config.VocabSize}).");
                }
            }

            if (prompt.Length == 0)
            {
                throw new InvalidParameterException("prompt", "the prompt is empty.");
            }

            int limit = runtime.Model.MaxModelLength;
            if (prompt.Length + sampling.MaxTokens > limit)
            {
                throw new InvalidParameterException(
                    "max_tokens",
                    $"this model's maximum context length is {limit} tokens, but the prompt has {prompt.Length} tokens and max_tokens is {sampling.MaxTokens}.");
            }

            var generator = runtime.CreateGenerator(new Random());
            var sequence = new GenerationSequence(0, prompt, sampling);
            IncrementalDetokenizer detokenizer = tokenizer.CreateDetokenizer();
            using Stream stdout = Console.OpenStandardOutput();
            using var writer = new StreamWriter(stdout, new UTF8Encoding(false)) { AutoFlush = true };
            var clock = Stopwatch.StartNew();
            double firstTokenMs = 0;
            generator.RunToCompletion([sequence], (_, token) =>
            {
                if (firstTokenMs == 0)
                {
                    firstTokenMs = clock.Elapsed.TotalMilliseconds;
                }

                string delta = detokenizer.Push(token.TokenId);
                if (json)
                {
                    writer.WriteLine(TokenJson(tokenizer, token, delta));
                }
                else
                {
                    writer.Write(delta);
                }
            });

            string tail = detokenizer.Flush();
            double totalMs = clock.Elapsed.TotalMilliseconds;
            int generated = sequence.OutputTokens.Count;
            string finish = sequence.FinishReason == FinishReason.Stop ? "stop" : "length";
            if (json)
            {
                writer.WriteLine(FinalJson(tail, finish, prompt.Length, generated, firstTokenMs, totalMs));
            }
            else
            {
                writer.WriteLine(tail);
            }

            double decodeRate = generated > 1 ? (generated - 1) / ((totalMs - firstTokenMs) / 1000) : 0;
            Console.Error.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"[{prompt.Length} prompt tokens, {generated} generated, finish_reason={finish}; TTFT {firstTokenMs:F0} ms, {decodeRate:F1} tokens/s]"));
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

    private static string TokenJson(ModelTokenizer tokenizer, GeneratedToken token, string delta)
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("id", token.TokenId);
            w.WriteString("token", tokenizer.IdToToken(token.TokenId));
            w.WriteString("text", delta);
            if (!float.IsNaN(token.Logprob))
            {
                w.WriteNumber("logprob", token.Logprob);
                w.WriteStartArray("top_logprobs");
                foreach (TokenLogprob alt in token.TopLogprobs)
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

    private static string FinalJson(string tail, string finish, int promptTokens, int generated, double ttftMs, double totalMs)
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("text", tail);
            w.WriteString("finish_reason", finish);
            w.WriteStartObject("usage");
            w.WriteNumber("prompt_tokens", promptTokens);
            w.WriteNumber("completion_tokens", generated);
            w.WriteNumber("total_tokens", promptTokens + generated);
            w.WriteEndObject();
            w.WriteNumber("ttft_ms", Math.Round(ttftMs, 1));
            w.WriteNumber("total_ms", Math.Round(totalMs, 1));
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }
}
