using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Runtime.InteropServices;
using Tensor = TorchSharp.torch.Tensor;

namespace Inference.Worker.Models;

/// <summary>
/// The element-wise and attention parts of a decode step, done on the host over the tensors' own memory
/// (CPU float32 only). At decode shapes each of these is a few microseconds of arithmetic that libtorch runs as
/// several ops of 1.5-5 us fixed cost each (RMSNorm alone is six); fused here they cost less than one op.
/// Attention reads K/V through the block table in place, so no step copies a sequence's cache.
/// </summary>
internal static unsafe class HostKernels
{
    [DllImport("LibTorchSharp")]
    private static extern IntPtr THSTensor_data(IntPtr handle);

    /// <summary>The first element of a contiguous CPU float32 tensor (storage offset included).</summary>
    public static float* Data(Tensor t) => (float*)THSTensor_data(t.Handle);

    /// <summary>dst[r] = x[r] * rsqrt(mean(x[r]^2) + eps) * weight, HF LlamaRMSNorm in float32.</summary>
    public static void RmsNorm(float* x, float* weight, float* dst, int rows, int n, double eps)
    {
        var w = new ReadOnlySpan<float>(weight, n);
        for (int r = 0; r < rows; r++)
        {
            var src = new ReadOnlySpan<float>(x + ((long)r * n), n);
            var d = new Span<float>(dst + ((long)r * n), n);
            float scale = (float)(1.0 / Math.Sqrt((TensorPrimitives.SumOfSquares(src) / n) + eps));
            TensorPrimitives.Multiply(src, scale, d);
            TensorPrimitives.Multiply(d, w, d);
        }
    }

    /// <summary>dst[r] = silu(gate[r]) * up[r] where row r of gateUp is [gate | up].</summary>
    public static void SiluMul(float* gateUp, float* dst, int rows, int inter, float* scratch)
    {
        var tmp = new Span<float>(scratch, inter);
        for (int r = 0; r < rows; r++)
        {
            var gate = new ReadOnlySpan<float>(gateUp + ((long)r * 2 * inter), inter);
            var up = new ReadOnlySpan<float>(gateUp + ((long)r * 2 * inter) + inter, inter);
            TensorPrimitives.Sigmoid(gate, tmp);
            TensorPrimitives.Multiply(tmp, gate, tmp);
            TensorPrimitives.Multiply(tmp, up, new Span<float>(dst + ((long)r * inter), inter));
        }
    }

    /// <summary>
    /// RoPE in place on one head vector (rotate_half convention): x = x * cos + roll(x, d/2) * sinSigned, where
    /// sinSigned is [-sin, sin] (<see cref="RotaryEmbedding.SinSigned"/>).
    /// </summary>
    public static void Rope(float* x, float* cos, float* sinSigned, int d, float* scratch)
    {
        int half = d / 2;
        var v = new Span<float>(x, d);
        var rolled = new Span<float>(scratch, d);
        v[half..].CopyTo(rolled);
        v[..half].CopyTo(rolled[half..]);
        TensorPrimitives.Multiply(v, new ReadOnlySpan<float>(cos, d), v);
        TensorPrimitives.MultiplyAdd(rolled, new ReadOnlySpan<float>(sinSigned, d), v, v);
    }

    /// <summary>
    /// One decode query's attention for one query head over keys [start, length) of its sequence, read in place
    /// from the paged cache: slot = table[j / blockSize] * blockSize + j % blockSize, rows of [kvHeads, d]. The dot
    /// products and the weighted sum are inlined over 8-float vectors (d a multiple of 8, FMA), block by block (one
    /// table lookup per block): at decode a call is a few hundred keys, where per-key calls would dominate.
    /// </summary>
    public static void Attend(
        float* q, float* keys, float* values, IReadOnlyList<int> table, int blockSize, int start, int length,
        int kvHeads, int kvHead, int d, float scale, float* scores, float* output)
    {
        long stride = (long)kvHeads * d;
        long headOffset = (long)kvHead * d;
        int n = length - start;
        for (int j = start; j < length;)
        {
            int block = j / blockSize;
            int end = Math.Min(length, (block + 1) * blockSize);
            float* k = keys + ((((long)table[block] * blockSize) + (j % blockSize)) * stride) + headOffset;
            for (; j < end; j++, k += stride)
            {
                Vector256<float> acc = Vector256<float>.Zero;
                for (int e = 0; e < d; e += 8)
                {
                    acc = Fma.MultiplyAdd(Avx.LoadVector256(q + e), Avx.LoadVector256(k + e), acc);
                }

                scores[j - start] = Vector256.Sum(acc) * scale;
            }
        }

        // Softmax with the maximum subtracted first, so large scores cannot overflow exp.
        var p = new Span<float>(scores, n);
        TensorPrimitives.Subtract(p, TensorPrimitives.Max(p), p);
        TensorPrimitives.Exp(p, p);
        TensorPrimitives.Multiply(p, 1f / TensorPrimitives.Sum(p), p);
        new Span<float>(output, d).Clear();
        for (int j = start; j < length;)
        {
            int block = j / blockSize;
            int end = Math.Min(length, (block + 1) * blockSize);
            float* v = values + ((((long)table[block] * blockSize) + (j % blockSize)) * stride) + headOffset;
            for (; j < end; j++, v += stride)
            {
                Vector256<float> weight = Vector256.Create(scores[j - start]);
                for (int e = 0; e < d; e += 8)
                {
                    Avx.Store(output + e, Fma.MultiplyAdd(Avx.LoadVector256(v + e), weight, Avx.LoadVector256(output + e)));
                }
            }
        }
    }
}
