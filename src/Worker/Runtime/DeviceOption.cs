using TorchSharp;
using static TorchSharp.torch;

namespace Inference.Worker.Runtime;

/// <summary>Parses --device: cpu, cuda (device 0) or cuda:N, or a comma-separated list of them for a pipeline split.</summary>
public static class DeviceOption
{
    public static Device Parse(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        Device device = ParseSyntax(value);
        EnsureVisible(device, value);
        return device;
    }

    /// <summary>
    /// Parses a list (cuda:0,cuda:1 or cpu,cpu): one device slot per pipeline stage, in stage order. Every entry is
    /// checked for its spelling first, then that all are of one type (the dtype and the forward path are chosen once
    /// for the whole model), then that each device exists. A single entry is <see cref="Parse"/>'s.
    /// </summary>
    public static Device[] ParseList(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        string[] items = value.Split(',', StringSplitOptions.TrimEntries);
        if (items.Length == 1)
        {
            return [Parse(value)];
        }

        var devices = new Device[items.Length];
        for (int i = 0; i < items.Length; i++)
        {
            if (items[i].Length == 0)
            {
                throw new ArgumentException($"--device '{value}' has an empty entry: list one device per pipeline stage, e.g. cuda:0,cuda:1.", nameof(value));
            }

            devices[i] = ParseSyntax(items[i]);
        }

        for (int i = 1; i < devices.Length; i++)
        {
            if (devices[i].type != devices[0].type)
            {
                throw new ArgumentException(
                    $"--device '{value}' mixes device types ({items[0]} and {items[i]}): every pipeline stage must be on cpu, or every one on cuda.",
                    nameof(value));
            }
        }

        for (int i = 0; i < devices.Length; i++)
        {
            EnsureVisible(devices[i], items[i]);
        }

        return devices;
    }

    private static Device ParseSyntax(string value)
    {
        string v = value.Trim().ToLowerInvariant();
        if (v == "cpu")
        {
            return CPU;
        }

        int index = 0;
        if (v != "cuda" && !(v.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(v.AsSpan(5), out index) && index >= 0))
        {
            throw new ArgumentException($"--device '{value}' is not valid: use cpu, cuda or cuda:N (a list such as cuda:0,cuda:1 splits the layers across them).", nameof(value));
        }

        return new Device(DeviceType.CUDA, index);
    }

    private static void EnsureVisible(Device device, string value)
    {
        if (device.type != DeviceType.CUDA)
        {
            return;
        }

        if (!cuda.is_available())
        {
            throw new ArgumentException(
                $"--device {value}: CUDA is not available (no GPU visible, or this is the CPU build: rebuild with -p:TorchBackend=cuda).",
                nameof(value));
        }

        int count = cuda.device_count();
        if (device.index >= count)
        {
            throw new ArgumentException($"--device {value}: only {count} CUDA device(s) are visible.", nameof(value));
        }
    }
}
