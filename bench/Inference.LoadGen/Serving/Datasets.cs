using System.Text.Json;
using Inference.Worker.Tokenization;

namespace Inference.LoadGen.Serving;

/// <summary>Builds a run's requests from <see cref="DatasetOptions"/> with the benchmark tokenizer (the served model's,
/// so prompt lengths are in the model's tokens, as vllm bench serve measures them).</summary>
public static class Datasets
{
    /// <summary>Prompts longer than this or answers making more than <see cref="MaxShareGptTotal"/> are dropped
    /// (vLLM's ShareGPT filter), as are prompts or answers shorter than 4 tokens.</summary>
    public const int MaxShareGptPrompt = 1024;

    public const int MaxShareGptTotal = 2048;

    public static IReadOnlyList<BenchRequest> Build(DatasetOptions options, ModelTokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (options.NumPrompts < 1)
        {
            throw new ArgumentException($"--num-prompts must be >= 1 (got {options.NumPrompts})");
        }

        if (options.RangeRatio is < 0 or >= 1)
        {
            throw new ArgumentException($"--random-range-ratio must be in [0, 1) (got {options.RangeRatio})");
        }

        var random = new Random(options.Seed);
        return options.Name switch
        {
            "random" => RandomRequests(options, tokenizer, random),
            "shared-prefix" => SharedPrefix(options, tokenizer, random),
            "sharegpt" => ShareGpt(options, tokenizer, random),
            _ => throw new ArgumentException($"--dataset {options.Name} is not one of random, shared-prefix, sharegpt"),
        };
    }

    private static List<BenchRequest> RandomRequests(DatasetOptions options, ModelTokenizer tokenizer, Random random)
    {
        RequirePositive(options.InputLength, "--input-len");
        RequirePositive(options.OutputLength, "--output-len");
        var requests = new List<BenchRequest>(options.NumPrompts);
        for (int i = 0; i < options.NumPrompts; i++)
        {
            (string prompt, int count) = RandomText(tokenizer, Draw(options.InputLength, options.RangeRatio, random), random);
            requests.Add(new BenchRequest(prompt, count, Draw(options.OutputLength, options.RangeRatio, random)));
        }

        return requests;
    }

    private static List<BenchRequest> SharedPrefix(DatasetOptions options, ModelTokenizer tokenizer, Random random)
    {
        RequirePositive(options.PrefixLength, "--prefix-len");
        RequirePositive(options.NumPrefixes, "--num-prefixes");
        RequirePositive(options.InputLength, "--input-len");
        RequirePositive(options.OutputLength, "--output-len");
        var prefixes = new (string Text, int Count)[options.NumPrefixes];
        for (int g = 0; g < prefixes.Length; g++)
        {
            prefixes[g] = RandomText(tokenizer, options.PrefixLength, random);
        }

        // Requests of the groups interleave (g0, g1, ..., g0, ...), as concurrent users of a few applications would.
        var requests = new List<BenchRequest>(options.NumPrompts);
        for (int i = 0; i < options.NumPrompts; i++)
        {
            (string prefix, int prefixCount) = prefixes[i % prefixes.Length];
            (string suffix, int count) = RandomText(tokenizer, Draw(options.InputLength, options.RangeRatio, random), random);
            requests.Add(new BenchRequest(suffix, prefixCount + count, Draw(options.OutputLength, options.RangeRatio, random))
            {
                SystemPrompt = prefix,
            });
        }

        return requests;
    }

    private static List<BenchRequest> ShareGpt(DatasetOptions options, ModelTokenizer tokenizer, Random random)
    {
        if (options.Path is null)
        {
            throw new ArgumentException("--dataset sharegpt needs --dataset-path FILE");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllBytes(options.Path));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException)
        {
            throw new ArgumentException($"--dataset-path {options.Path}: {ex.Message}", ex);
        }

        var pairs = new List<(string Prompt, string Answer)>();
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Array)
            {
                throw new ArgumentException($"{options.Path}: the top level must be an array of conversations");
            }

            int index = 0;
            foreach (JsonElement entry in document.RootElement.EnumerateArray())
            {
                if (Conversation(entry, options.Path, index++) is { } pair)
                {
                    pairs.Add(pair);
                }
            }
        }

        // Shuffled with the seed, then filtered in that order until enough are found (vLLM's sample order).
        for (int i = pairs.Count - 1; i > 0; i--)
        {
            int j = random.Next(i + 1);
            (pairs[i], pairs[j]) = (pairs[j], pairs[i]);
        }

        var requests = new List<BenchRequest>(options.NumPrompts);
        foreach ((string prompt, string answer) in pairs)
        {
            int promptTokens = tokenizer.Encode(prompt).Length;
            int outputTokens = options.ShareGptOutputLength ?? tokenizer.Encode(answer, addSpecialTokens: false).Length;
            if (promptTokens < 4 || outputTokens < 4 || promptTokens > MaxShareGptPrompt || promptTokens + outputTokens > MaxShareGptTotal)
            {
                continue;
            }

            requests.Add(new BenchRequest(prompt, promptTokens, outputTokens));
            if (requests.Count == options.NumPrompts)
            {
                break;
            }
        }

        if (requests.Count == 0)
        {
            throw new ArgumentException($"{options.Path}: no conversation has a human turn followed by an answer within the length limits (prompt 4..{MaxShareGptPrompt} tokens, prompt + answer <= {MaxShareGptTotal})");
        }

        return requests;
    }

    private static (string, string)? Conversation(JsonElement entry, string path, int index)
    {
        if (entry.ValueKind != JsonValueKind.Object)
        {
            throw new ArgumentException($"{path}: [{index}] is not an object");
        }

        if (!entry.TryGetProperty("conversations", out JsonElement turns) && !entry.TryGetProperty("conversation", out turns))
        {
            throw new ArgumentException($"{path}: [{index}] has no \"conversations\" array");
        }

        if (turns.ValueKind != JsonValueKind.Array)
        {
            throw new ArgumentException($"{path}: [{index}].conversations is not an array");
        }

        string? prompt = null;
        foreach (JsonElement turn in turns.EnumerateArray())
        {
            string? from = Field(turn, "from") ?? Field(turn, "role");
            string? value = Field(turn, "value") ?? Field(turn, "content");
            if (from is null || value is null)
            {
                throw new ArgumentException($"{path}: [{index}].conversations has a turn without \"from\"/\"value\" strings");
            }

            if (prompt is null)
            {
                if (from is "human" or "user")
                {
                    prompt = value;
                }
            }
            else if (from is "gpt" or "assistant" or "chatgpt" or "bard" or "bing")
            {
                return (prompt, value);
            }
        }

        return null;
    }

    private static string? Field(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;

    /// <summary>Text of about <paramref name="tokens"/> tokens made of random vocabulary entries, and its exact length
    /// when encoded again (decoding and re-encoding random ids can merge or split tokens).</summary>
    internal static (string Text, int Count) RandomText(ModelTokenizer tokenizer, int tokens, Random random)
    {
        var ids = new int[tokens];
        for (int i = 0; i < ids.Length; i++)
        {
            ids[i] = random.Next(tokenizer.VocabSize);
        }

        string text = tokenizer.Decode(ids);
        int[] encoded = tokenizer.Encode(text, addSpecialTokens: false);
        if (encoded.Length > tokens)
        {
            text = tokenizer.Decode(encoded.AsSpan(0, tokens));
            encoded = tokenizer.Encode(text, addSpecialTokens: false);
        }

        return (text, encoded.Length);
    }

    private static int Draw(int length, double ratio, Random random)
    {
        if (ratio == 0)
        {
            return length;
        }

        int low = Math.Max(1, (int)Math.Floor(length * (1 - ratio)));
        int high = Math.Max(low, (int)Math.Ceiling(length * (1 + ratio)));
        return random.Next(low, high + 1);
    }

    private static void RequirePositive(int value, string option)
    {
        if (value < 1)
        {
            throw new ArgumentException($"{option} must be >= 1 (got {value})");
        }
    }
}
