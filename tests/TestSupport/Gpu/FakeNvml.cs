using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Inference.TestSupport.Gpu;

/// <summary>
/// A fake libnvidia-ml.so built from fake_nvml.c (embedded in this assembly) with gcc into a fresh temp folder,
/// answering from a key=value file the test controls (see the C file's header). Each instance is its own library
/// file, so tests in parallel never share answers. Without gcc the build throws, so such tests fail rather than pass.
/// </summary>
public sealed class FakeNvml : IDisposable
{
    public const string H200Uuid0 = "GPU-5e1f0a52-7c3b-4d8e-9a61-0d2c4b6f8e10";
    public const string H200Uuid1 = "GPU-5e1f0a52-7c3b-4d8e-9a61-0d2c4b6f8e11";
    public const string MigUuid0 = "MIG-8c1d2e3f-4a5b-5c6d-8e7f-9a0b1c2d3e40";
    public const string MigUuid1 = "MIG-8c1d2e3f-4a5b-5c6d-8e7f-9a0b1c2d3e41";

    private FakeNvml(string directory)
    {
        Directory = directory;
        LibraryPath = Path.Combine(directory, "libnvidia-ml.so.1");
        ConfigPath = Path.Combine(directory, "nvml.conf");
    }

    public string Directory { get; }

    /// <summary>The library to point the worker at (WorkerOptions.NvmlLibrary or INFERENCE_NVML_LIBRARY).</summary>
    public string LibraryPath { get; }

    public string ConfigPath { get; }

    /// <summary>Two H200-like devices with every field set and no processes; tests change what they need.</summary>
    public static Dictionary<string, string> TwoIdleH200s() => new(StringComparer.Ordinal)
    {
        ["count"] = "2",
        ["0.name"] = "NVIDIA H200",
        ["0.uuid"] = H200Uuid0,
        ["0.util_gpu"] = "73",
        ["0.util_mem"] = "41",
        ["0.mem_total"] = "150754820096",
        ["0.mem_used"] = "1073741824",
        ["0.mem_free"] = "149681078272",
        ["0.temp"] = "54",
        ["0.power_mw"] = "412345",
        ["0.power_limit_mw"] = "700000",
        ["0.clock_sm"] = "1980",
        ["0.clock_mem"] = "2619",
        ["0.procs"] = string.Empty,
        ["1.name"] = "NVIDIA H200",
        ["1.uuid"] = H200Uuid1,
        ["1.util_gpu"] = "5",
        ["1.util_mem"] = "1",
        ["1.mem_total"] = "150754820096",
        ["1.mem_used"] = "536870912",
        ["1.mem_free"] = "150217949184",
        ["1.temp"] = "31",
        ["1.power_mw"] = "75500",
        ["1.power_limit_mw"] = "700000",
        ["1.clock_sm"] = "345",
        ["1.clock_mem"] = "2619",
        ["1.procs"] = string.Empty,
    };

    /// <summary>
    /// <see cref="TwoIdleH200s"/> with GPU 0 in MIG mode holding two 3g.71gb MIG devices (indices 0 and 2 of 7; NVML
    /// answers memory and processes for a MIG device, not utilization, temperature or power) and no processes.
    /// </summary>
    public static Dictionary<string, string> H200WithTwoMigDevices()
    {
        Dictionary<string, string> config = TwoIdleH200s();
        config["0.mig_mode"] = "1";
        config["0.mig_max"] = "7";
        config["1.mig_mode"] = "0";
        config["1.mig_max"] = "7";
        foreach ((int index, string uuid, string used) in new[] { (0, MigUuid0, "2147483648"), (2, MigUuid1, "1073741824") })
        {
            config[$"0/{index}.name"] = "NVIDIA H200 MIG 3g.71gb";
            config[$"0/{index}.uuid"] = uuid;
            config[$"0/{index}.mem_total"] = "75377410048";
            config[$"0/{index}.mem_used"] = used;
            config[$"0/{index}.mem_free"] = (75377410048 - long.Parse(used, CultureInfo.InvariantCulture)).ToString(CultureInfo.InvariantCulture);
            config[$"0/{index}.procs"] = string.Empty;
        }

        return config;
    }

    /// <summary>Compiles the fake; <paramref name="withoutV3"/> leaves out the _v3 processes entry point (an older driver).</summary>
    public static FakeNvml Build(IReadOnlyDictionary<string, string> config, bool withoutV3 = false)
    {
        ArgumentNullException.ThrowIfNull(config);
        var fake = new FakeNvml(System.IO.Directory.CreateTempSubdirectory("fake-nvml-").FullName);
        string source = Path.Combine(fake.Directory, "fake_nvml.c");
        using (Stream resource = typeof(FakeNvml).Assembly.GetManifestResourceStream("fake_nvml.c")
            ?? throw new InvalidOperationException("fake_nvml.c is not embedded in Inference.TestSupport"))
        using (FileStream file = File.Create(source))
        {
            resource.CopyTo(file);
        }

        fake.Configure(config);
        var start = new ProcessStartInfo("gcc")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (string arg in new[] { "-shared", "-fPIC", "-O1", "-Wall", "-Werror", "-o", fake.LibraryPath, $"-DFAKE_NVML_CONFIG=\"{fake.ConfigPath}\"", source })
        {
            start.ArgumentList.Add(arg);
        }

        if (withoutV3)
        {
            start.ArgumentList.Add("-DFAKE_NVML_NO_V3");
        }

        Process gcc;
        try
        {
            gcc = Process.Start(start)!;
        }
        catch (Win32Exception ex)
        {
            fake.Dispose();
            throw new InvalidOperationException(
                "gcc was not found on PATH: the NVML tests compile a fake libnvidia-ml.so from tests/TestSupport/Gpu/fake_nvml.c; install gcc (apt-get install gcc).", ex);
        }

        using (gcc)
        {
            string errors = gcc.StandardError.ReadToEnd();
            if (!gcc.WaitForExit(60_000) || gcc.ExitCode != 0)
            {
                fake.Dispose();
                throw new InvalidOperationException($"gcc could not build the fake libnvidia-ml.so: {errors}");
            }
        }

        return fake;
    }

    /// <summary>Replaces the answers (atomically: a call reads the old file or the new one, never half of one).</summary>
    public void Configure(IReadOnlyDictionary<string, string> config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var text = new StringBuilder();
        foreach ((string key, string value) in config)
        {
            text.Append(key).Append('=').Append(value).Append('\n');
        }

        string temp = ConfigPath + ".tmp";
        File.WriteAllText(temp, text.ToString());
        File.Move(temp, ConfigPath, overwrite: true);
    }

    /// <summary>"pid:bytes,..." for the procs key.</summary>
    public static string Processes(params (int Pid, long? Bytes)[] processes) =>
        string.Join(',', processes.Select(p => p.Pid.ToString(CultureInfo.InvariantCulture) + ":" + (p.Bytes?.ToString(CultureInfo.InvariantCulture) ?? "na")));

    public void Dispose()
    {
        // The library stays mapped in the test process (dlopen'd files cannot be unloaded safely): deleting the file
        // only unlinks it.
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
