using static TorchSharp.torch;

namespace Inference.Worker.Models;

/// <summary>
/// One decoder layer's weights, fused at load time to cut ops per step (small models are bound by
/// per-op overhead on CPU): q/k/v in one projection, gate/up in one projection. Loading builds them in
/// Hugging Face's [out, in] layout; <see cref="LlamaModel"/> then keeps the projections transposed
/// ([in, out]) so a step multiplies with mm/addmm over contiguous rows.
/// </summary>
internal sealed class DecoderLayer : IDisposable
{
    public required Tensor InputLayernorm { get; init; }

    /// <summary>q_proj, k_proj, v_proj stacked: [(heads + 2 * kv_heads) * head_dim, hidden] (transposed once in the model).</summary>
    public required Tensor QkvProj { get; init; }

    /// <summary>Stacked q/k/v biases (Qwen2), or null.</summary>
    public Tensor? QkvBias { get; init; }

    public required Tensor OProj { get; init; }
    public required Tensor PostAttentionLayernorm { get; init; }

    /// <summary>gate_proj then up_proj: [2 * intermediate, hidden] (transposed once in the model).</summary>
    public required Tensor GateUpProj { get; init; }

    public required Tensor DownProj { get; init; }

    public void Dispose()
    {
        InputLayernorm.Dispose();
        QkvProj.Dispose();
        QkvBias?.Dispose();
        OProj.Dispose();
        PostAttentionLayernorm.Dispose();
        GateUpProj.Dispose();
        DownProj.Dispose();
    }
}
