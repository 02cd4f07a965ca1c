using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Inference.Worker.Cli;
using Inference.Worker.Constraints;
using Inference.Worker.Engine;
using Inference.Worker.Runtime;
using Inference.Worker.Sampling;

namespace Inference.Bench;

/// <summary>
/// Structured outputs' cost on the bundled model: schema compile time (small and large), mask time per state
/// (computed and cached), and the engine's decode step at batch 1 and 32 with and without constrained rows,
/// interleaved in one run so the ratios are fair.
/// </summary>
internal static class ConstraintBenchmark
{
    private const string SmallSchema = """
        {"type":"object","properties":{"name":{"type":"string","maxLength":16},"age":{"type":"integer","minimum":0,"maximum":120},
         "tags":{"type":"array","items":{"enum":["red","green","blue"]},"maxItems":3}},"required":["name","age"],"additionalProperties":false}
        """;

    public static int Run(string[] args)
    {
        int steps = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 48;
        string dir = BundledModelLocator.Find() ?? throw new DirectoryNotFoundException(BundledModelLocator.RelativePath);
        using ModelRuntime runtime = ModelRuntime.Load(new WorkerOptions { ModelDir = dir, Dtype = "float32", KvCacheMemory = "128MiB" });
        Console.WriteLine($"model {dir}: vocab {runtime.Tokenizer.VocabSize}, {Environment.ProcessorCount} cores");

        CompileTimes(runtime);
        MaskTimes(runtime);
        StepTimes(runtime, steps);
        return 0;
    }

    private static string LargeSchema()
    {
        // 150 properties of assorted kinds, nested two levels, with $defs: ~25 KB of schema.
        var sb = new StringBuilder("""{"$defs":{"addr":{"type":"object","properties":{"street":{"type":"string","maxLength":40},"zip":{"type":"string","pattern":"^[0-9]{5}$"},"city":{"enum":["Seoul","Busan","Daegu","Incheon","Gwangju"]}},"required":["street","zip","city"],"additionalProperties":false}},"type":"object","properties":{""");
        for (int i = 0; i < 150; i++)
        {
            if (i > 0)
            {
                sb.Append(',');
            }

            sb.Append(CultureInfo.InvariantCulture, $"\"p{i}\":");
            sb.Append((i % 5) switch
            {
                0 => """{"type":"integer","minimum":-1000,"maximum":250000}""",
                1 => """{"type":"string","format":"date-time"}""",
                2 => """{"$ref":"#/$defs/addr"}""",
                3 => """{"type":"array","items":{"type":"number","minimum":0,"maximum":100},"maxItems":8}""",
                _ => """{"anyOf":[{"type":"string","maxLength":20},{"type":"null"},{"type":"boolean"}]}""",
            });
        }

        sb.Append("},\"required\":[\"p0\",\"p1\",\"p2\"],\"additionalProperties\":false}");
        return sb.ToString();
    }

    private static void CompileTimes(ModelRuntime runtime)
    {
        var sw = Stopwatch.StartNew();
        runtime.Constraints.Compile("root ::= \"x\"");
        Console.WriteLine($"vocabulary trie (once per model): {sw.Elapsed.TotalMilliseconds:F1} ms");
        foreach ((string name, string schema) in new[] { ("small", SmallSchema), ("large", LargeSchema()) })
        {
            using JsonDocument doc = JsonDocument.Parse(schema);
            var times = new List<double>();
            int elements = 0;
            int length = 0;
            for (int i = 0; i < 5; i++)
            {
                sw.Restart();
                string gbnf = JsonSchemaGrammar.ToGbnf(doc.RootElement);
                Grammar grammar = Grammar.Parse(gbnf);
                times.Add(sw.Elapsed.TotalMilliseconds);
                elements = grammar.ElementCount;
                length = gbnf.Length;
            }

            times.Sort();
            Console.WriteLine($"compile {name} schema ({schema.Length:N0} B -> {length:N0} B GBNF, {elements:N0} elements): median {times[2]:F2} ms (gateway translate + parse; the worker parses again)");
        }
    }

    private static void MaskTimes(ModelRuntime runtime)
    {
        using JsonDocument doc = JsonDocument.Parse(SmallSchema);
        TokenConstraint constraint = new ConstraintCompiler(runtime.Tokenizer).Compile(JsonSchemaGrammar.ToGbnf(doc.RootElement));
        var random = new Random(1);
        var cold = new List<double>();
        var warm = new List<double>();
        for (int walk = 0; walk < 20; walk++)
        {
            GrammarMatcher matcher = constraint.CreateMatcher();
            for (int step = 0; step < 60 && !matcher.IsComplete; step++)
            {
                long misses = constraint.MaskMisses;
                long start = Stopwatch.GetTimestamp();
                ReadOnlySpan<byte> mask = matcher.AllowedTokens().Span;
                double us = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
                (constraint.MaskMisses > misses ? cold : warm).Add(us);
                var allowed = new List<int>();
                for (int t = 0; t < mask.Length; t++)
                {
                    if (mask[t] == 1 && !runtime.EosTokenIds.Contains(t))
                    {
                        allowed.Add(t);
                    }
                }

                if (allowed.Count == 0 || !matcher.Accept(allowed[random.Next(allowed.Count)]))
                {
                    break;
                }
            }
        }

        cold.Sort();
        warm.Sort();
        Console.WriteLine($"mask per state, vocab {runtime.Tokenizer.VocabSize}: computed median {cold[cold.Count / 2]:F0} us, p90 {cold[cold.Count * 9 / 10]:F0} us ({cold.Count} states); cached median {warm[warm.Count / 2]:F1} us ({warm.Count} lookups)");
    }

    private static void StepTimes(ModelRuntime runtime, int steps)
    {
        using JsonDocument doc = JsonDocument.Parse(SmallSchema);
        string gbnf = JsonSchemaGrammar.ToGbnf(doc.RootElement);
        Console.WriteLine($"decode step (EngineCore.Step, temperature 1, {steps} steps after prefill), interleaved 3 rounds:");
        var results = new Dictionary<string, List<double>>();
        for (int round = 0; round < 3; round++)
        {
            foreach (int batch in new[] { 1, 32 })
            {
                foreach (string mode in new[] { "free", "constrained" })
                {
                    double ms = StepTime(runtime, batch, mode == "constrained" ? gbnf : null, steps, round);
                    string key = $"batch {batch,2} {mode}";
                    (results.TryGetValue(key, out List<double>? list) ? list : results[key] = []).Add(ms);
                }
            }
        }

        foreach ((string key, List<double> list) in results)
        {
            list.Sort();
            Console.WriteLine($"  {key,-24} median {list[1]:F2} ms/step");
        }
    }

    private static double StepTime(ModelRuntime runtime, int batch, string? grammar, int steps, int round)
    {
        var core = new EngineCore(runtime, new EngineOptions { EnablePrefixCaching = false }, TimeProvider.System, new Random(round));
        var streams = new List<ChannelReader<EngineEvent>>();
        int[] prompt = runtime.Tokenizer.Encode("Describe a person as JSON:");
        for (int i = 0; i < batch; i++)
        {
            var sampling = new SamplingParams { Temperature = 1f, Seed = (ulong)(i + (round * 100)), MaxTokens = steps + 8, IgnoreEos = grammar is null };
            if (core.Add(new GenerationRequest { RequestId = $"r{i}", PromptTokens = prompt, Sampling = sampling, Grammar = grammar }, out ChannelReader<EngineEvent>? events) is { } refusal)
            {
                throw new InvalidOperationException(refusal.Message);
            }

            streams.Add(events!);
        }

        // Prefill (and the first token) outside the measurement.
        core.Step();
        long start = Stopwatch.GetTimestamp();
        int done = 0;
        while (done < steps && core.HasWork)
        {
            core.Step();
            done++;
            foreach (ChannelReader<EngineEvent> s in streams)
            {
                while (s.TryRead(out _))
                {
                }
            }
        }

        double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds / Math.Max(1, done);
        while (core.HasWork)
        {
            core.Step();
        }

        return ms;
    }
}
