using static TorchSharp.torch;

namespace Inference.Worker.Models;

/// <summary>
/// cos/sin tables for rotary position embeddings, HF Llama convention (rotate_half over the two
/// halves of head_dim). The sin table is stored sign-folded ([-sin, sin]) so that applying RoPE is
/// x * cos + roll(x, D/2) * sin: four ops instead of the six of slice/neg/cat.
/// </summary>
internal sealed class RotaryEmbedding : IDisposable
{
    public RotaryEmbedding(ModelConfig config, int maxPositions, ScalarType dtype, Device device)
    {
        int dim = config.HeadDim;
        MaxPositions = maxPositions;
        using var scope = NewDisposeScope();

        // Computed in float32 with torch ops, as Hugging Face does, so the tables match bit for bit.
        Tensor exponent = arange(0, dim, 2, ScalarType.Int64).to(ScalarType.Float32) / dim;
        Tensor invFreq = 1.0f / pow(tensor((float)config.RopeTheta), exponent);
        invFreq = ApplyScaling(invFreq, config.RopeScaling);

        Tensor positions = arange(0, maxPositions, 1, ScalarType.Int64).to(ScalarType.Float32);
        Tensor freqs = outer(positions, invFreq);
        Tensor emb = cat([freqs, freqs], 1);
        Tensor sin = freqs.sin();
        Cos = emb.cos().to(dtype, device).DetachFromDisposeScope();
        SinSigned = cat([-sin, sin], 1).to(dtype, device).DetachFromDisposeScope();
    }

    public int MaxPositions { get; }

    /// <summary>[MaxPositions, head_dim].</summary>
    public Tensor Cos { get; }

    /// <summary>[MaxPositions, head_dim]: -sin over the first half, +sin over the second.</summary>
    public Tensor SinSigned { get; }

    /// <summary>Applies RoPE to x [T, heads, D] given per-token cos/sin [T, 1, D].</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sinSigned, long halfDim) =>
        x * cos + x.roll(halfDim, -1) * sinSigned;

    private static Tensor ApplyScaling(Tensor invFreq, RopeScaling? scaling)
    {
        if (scaling is null)
        {
            return invFreq;
        }

        switch (scaling.Type)
        {
            case "linear":
                return invFreq / (float)scaling.Factor;
            case "llama3":
            {
                // Llama 3.1: long wavelengths are slowed by `factor`, short ones kept, and the band in
                // between is interpolated smoothly (HF _compute_llama3_parameters).
                double lowFreqWavelen = scaling.OriginalMaxPositionEmbeddings / scaling.LowFreqFactor;
                double highFreqWavelen = scaling.OriginalMaxPositionEmbeddings / scaling.HighFreqFactor;
                Tensor wavelen = 2 * Math.PI / invFreq;
                Tensor scaled = where(wavelen > lowFreqWavelen, invFreq / (float)scaling.Factor, invFreq);
                Tensor smooth = (scaling.OriginalMaxPositionEmbeddings / wavelen - scaling.LowFreqFactor)
                    / (scaling.HighFreqFactor - scaling.LowFreqFactor);
                Tensor smoothed = (1 - smooth) * scaled / (float)scaling.Factor + smooth * scaled;
                Tensor isMedium = (wavelen >= highFreqWavelen).logical_and(wavelen <= lowFreqWavelen);
                return where(isMedium, smoothed, scaled);
            }

            default:
                throw new NotSupportedException($"rope_scaling type '{scaling.Type}' is not supported (supported: llama3, linear).");
        }
    }

    public void Dispose()
    {
        Cos.Dispose();
        SinSigned.Dispose();
    }
}
