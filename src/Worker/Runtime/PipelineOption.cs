using System.Globalization;
using Inference.Worker.Models;
using static TorchSharp.torch;

namespace Inference.Worker.Runtime;

/// <summary>
/// Turns --device (one device, or a list: one slot per pipeline stage) and --pipeline-layers into the stages of a
/// layer split. With one device there is one stage holding every layer, exactly the unsplit model.
/// </summary>
public static class PipelineOption
{
    /// <summary>Parses and checks the devices, then splits <paramref name="numLayers"/> decoder layers over them.</summary>
    public static PipelineStage[] Plan(string device, string? pipelineLayers, int numLayers)
    {
        Device[] devices = DeviceOption.ParseList(device);
        int[] counts = SplitLayers(numLayers, devices.Length, pipelineLayers, device);
        var stages = new PipelineStage[devices.Length];
        int first = 0;
        for (int i = 0; i < stages.Length; i++)
        {
            stages[i] = new PipelineStage(i, devices[i], first, counts[i]);
            first += counts[i];
        }

        return stages;
    }

    /// <summary>
    /// Layers per stage: <paramref name="explicitLayers"/> ("12,20") when given, which must list one positive count per
    /// stage summing to <paramref name="numLayers"/>; otherwise an even split, the remainder going one layer each to
    /// the first stages (the last stage also runs the final norm and lm_head, the largest single product).
    /// </summary>
    public static int[] SplitLayers(int numLayers, int numStages, string? explicitLayers, string device = "")
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numLayers);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numStages);
        if (explicitLayers is null)
        {
            if (numStages > numLayers)
            {
                throw new ArgumentException(
                    $"--device '{device}' names {numStages} pipeline stages but the model has only {numLayers} decoder layers: every stage needs at least one layer.",
                    nameof(device));
            }

            var even = new int[numStages];
            for (int i = 0; i < numStages; i++)
            {
                even[i] = (numLayers / numStages) + (i < numLayers % numStages ? 1 : 0);
            }

            return even;
        }

        string[] items = explicitLayers.Split(',', StringSplitOptions.TrimEntries);
        if (items.Length != numStages)
        {
            throw new ArgumentException(
                $"--pipeline-layers '{explicitLayers}' lists {items.Length} stage(s) but --device '{device}' names {numStages}: give one layer count per device.",
                nameof(explicitLayers));
        }

        var counts = new int[numStages];
        long sum = 0;
        for (int i = 0; i < items.Length; i++)
        {
            if (!int.TryParse(items[i], NumberStyles.None, CultureInfo.InvariantCulture, out counts[i]) || counts[i] < 1)
            {
                throw new ArgumentException(
                    $"--pipeline-layers '{explicitLayers}': entry '{items[i]}' is not a positive layer count (every stage needs at least one layer).",
                    nameof(explicitLayers));
            }

            sum += counts[i];
        }

        if (sum != numLayers)
        {
            throw new ArgumentException(
                $"--pipeline-layers '{explicitLayers}' sums to {sum} layers but the model has {numLayers} decoder layers.",
                nameof(explicitLayers));
        }

        return counts;
    }
}
