using static TorchSharp.torch;

namespace Inference.Worker.Models;

/// <summary>
/// One stage of a pipeline split of the decoder layers across device slots: layers
/// [<see cref="FirstLayer"/>, <see cref="FirstLayer"/> + <see cref="NumLayers"/>) with their weights and KV blocks on
/// <see cref="Device"/>. The first stage also holds the embedding, the last the final norm and lm_head. Two stages may
/// name the same device (cpu,cpu): each is still its own slot with its own tensors, and the hidden state is copied
/// from one to the next exactly as between two GPUs.
/// </summary>
public sealed record PipelineStage(int Index, Device Device, int FirstLayer, int NumLayers)
{
    /// <summary>One past the stage's last layer.</summary>
    public int EndLayer => FirstLayer + NumLayers;

    /// <summary>The single stage of an unsplit model: every layer on <paramref name="device"/>.</summary>
    public static PipelineStage[] Single(Device device, int numLayers) => [new PipelineStage(0, device, 0, numLayers)];

    /// <summary>"cuda:0 layers 0-15; cuda:1 layers 16-31": what logs and worker info show.</summary>
    public static string Describe(IReadOnlyList<PipelineStage> stages)
    {
        ArgumentNullException.ThrowIfNull(stages);
        var parts = new string[stages.Count];
        for (int i = 0; i < stages.Count; i++)
        {
            PipelineStage s = stages[i];
            parts[i] = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{DeviceName(s.Device)} layers {s.FirstLayer}-{s.EndLayer - 1}");
        }

        return string.Join("; ", parts);
    }

    /// <summary>cpu or cuda:N, as --device spells it.</summary>
    public static string DeviceName(Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        return device.type == TorchSharp.DeviceType.CPU ? "cpu" : $"cuda:{Math.Max(device.index, 0)}";
    }
}
