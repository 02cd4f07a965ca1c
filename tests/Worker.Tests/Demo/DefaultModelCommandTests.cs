using System.Diagnostics;

namespace Inference.Worker.Tests.Demo;

/// <summary>The product's default command (no --model) serves the bundled demo model, run as an operator would.</summary>
public sealed class DefaultModelCommandTests
{
    [Fact]
    public async Task Generate_NoModelOption_ServesBundledModelInEnglish()
    {
        string modelDir = BundledModel.Directory();
        var start = new ProcessStartInfo(Environment.ProcessPath!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(Path.GetDirectoryName(modelDir))!,
        };
        foreach (string arg in new[] { Path.Combine(AppContext.BaseDirectory, "Inference.Worker.dll"), "generate", "--prompt", "The jury said that", "--max-tokens", "24", "--temperature", "0" })
        {
            start.ArgumentList.Add(arg);
        }

        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90)))
        {
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                Assert.Fail("worker did not exit within 90 s");
            }
        }

        string output = await stdout;
        string log = await stderr;
        Assert.True(process.ExitCode == 0, log);
        Assert.Contains(Path.Combine("models", BundledModel.Name), log, StringComparison.Ordinal);

        // Greedy text from the trained model: mostly lowercase letters and spaces, several words.
        string[] words = output.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(words.Length >= 5, $"output: '{output}'");
        Assert.True(output.Count(char.IsAsciiLetterLower) > output.Length / 2, $"output: '{output}'");
    }
}
