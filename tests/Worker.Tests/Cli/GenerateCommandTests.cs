using System.Diagnostics;
using System.Text.Json;
using Inference.Worker.Models;
using Inference.Worker.Runtime;
using Inference.Worker.Sampling;

namespace Inference.Worker.Tests.Cli;

/// <summary>Runs the real worker executable as a child process, as an operator would.</summary>
public sealed class GenerateCommandTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "cli-" + Guid.NewGuid().ToString("N"));

    public GenerateCommandTests()
    {
        RandomModelWriter.Write(_dir, TestModels.Config(ModelArchitecture.Qwen2) with { VocabSize = 400 }, seed: 11);
    }

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    private static (int ExitCode, string Stdout, string Stderr) RunWorker(params string[] args)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Inference.Worker.dll"));
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(90)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("worker did not exit within 90 s");
        }

        return (process.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult());
    }

    private List<int> GreedyInProcess(int[] prompt, int maxTokens)
    {
        using ModelRuntime runtime = ModelRuntime.Load(new WorkerOptions { ModelDir = _dir, KvCacheMemory = "4MiB" });
        return Engine.CoreDriver.Generate(runtime, 2048, (prompt, new SamplingParams { Temperature = 0, MaxTokens = maxTokens, IgnoreEos = true })).Tokens;
    }

    [Fact]
    public void Generate_JsonWithPromptIds_PrintsOneLinePerTokenMatchingTheRuntime()
    {
        (int code, string stdout, string stderr) = RunWorker(
            "generate", "--model", _dir, "--prompt-ids", "5,17,42,8", "--max-tokens", "6", "--temperature", "0",
            "--json", "--logprobs", "3", "--ignore-eos", "--kv-cache-memory", "4MiB");

        Assert.True(code == 0, stderr);
        string[] lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(7, lines.Length);
        var ids = new List<int>();
        foreach (string line in lines[..6])
        {
            using JsonDocument doc = JsonDocument.Parse(line);
            JsonElement root = doc.RootElement;
            ids.Add(root.GetProperty("id").GetInt32());
            Assert.True(root.GetProperty("logprob").GetDouble() <= 0);
            JsonElement top = root.GetProperty("top_logprobs");
            Assert.Equal(3, top.GetArrayLength());

            // Greedy: the chosen token is the most likely alternative.
            Assert.Equal(root.GetProperty("id").GetInt32(), top[0].GetProperty("id").GetInt32());
        }

        Assert.Equal(GreedyInProcess([5, 17, 42, 8], 6), ids);
        using JsonDocument final = JsonDocument.Parse(lines[6]);
        Assert.Equal("length", final.RootElement.GetProperty("finish_reason").GetString());
        Assert.Equal(4, final.RootElement.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(6, final.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public void Generate_TextPrompt_StreamsTheDecodedCompletion()
    {
        (int code, string stdout, string stderr) = RunWorker(
            "generate", "--model", _dir, "--prompt", "Hello there", "--max-tokens", "8", "--temperature", "0", "--ignore-eos", "--kv-cache-memory", "4MiB");

        Assert.True(code == 0, stderr);
        using ModelRuntime runtime = ModelRuntime.Load(new WorkerOptions { ModelDir = _dir, KvCacheMemory = "4MiB" });
        List<int> expected = GreedyInProcess(runtime.Tokenizer.Encode("Hello there"), 8);
        Assert.Equal(runtime.Tokenizer.Decode(expected.ToArray()) + "\n", stdout);
        Assert.Contains("Loading weights: 100.0%", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Generate_MissingFolder_ExitsOneNamingIt()
    {
        string missing = Path.Combine(_dir, "nope");
        (int code, _, string stderr) = RunWorker("generate", "--model", missing, "--prompt", "x");
        Assert.Equal(1, code);
        Assert.Contains(missing, stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--top-p", "0", "top_p")]
    [InlineData("--max-tokens", "100000", "maximum context length")]
    [InlineData("--min-tokens", "65", "min_tokens")]
    public void Generate_BadParameter_ExitsTwoNamingIt(string option, string value, string expected)
    {
        (int code, _, string stderr) = RunWorker("generate", "--model", _dir, "--prompt", "x", option, value, "--kv-cache-memory", "4MiB");
        Assert.Equal(2, code);
        Assert.Contains(expected, stderr, StringComparison.Ordinal);
    }
}
