using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Inference.Trainer;

/// <summary>Held-out loss of the model and of a unigram baseline, over the same predicted tokens.</summary>
internal static class Evaluate
{
    /// <summary>
    /// Mean next-token loss (nats) over consecutive non-overlapping windows of <paramref name="context"/> + 1 tokens,
    /// predicting every token but &lt;s&gt; (which always follows &lt;/s&gt;, so it would flatter both models).
    /// </summary>
    public static double MeanLoss(LlamaTrainingModel model, Tensor stream, int context, int maxWindows = int.MaxValue)
    {
        (double sum, long count) = SumLoss(model, stream, context, maxWindows);
        return sum / count;
    }

    public static (double Sum, long Count) SumLoss(LlamaTrainingModel model, Tensor stream, int context, int maxWindows = int.MaxValue)
    {
        bool wasTraining = model.training;
        model.eval();
        using var noGrad = no_grad();
        long windows = Math.Min(maxWindows, (stream.shape[0] - 1) / context);
        double sum = 0;
        long count = 0;
        const int Batch = 16;
        for (long first = 0; first < windows; first += Batch)
        {
            using var scope = NewDisposeScope();
            long n = Math.Min(Batch, windows - first);
            Tensor index = (arange(first, first + n, ScalarType.Int64).unsqueeze(1) * context) + arange(context + 1, ScalarType.Int64).unsqueeze(0);
            Tensor w = stream.index_select(0, index.reshape(-1)).view(n, context + 1);
            Tensor target = w.narrow(1, 1, context).reshape(-1);
            Tensor nll = F.cross_entropy(model.forward(w.narrow(1, 0, context)).view(-1, model.Config.VocabSize), target, reduction: nn.Reduction.None);
            Tensor keep = target.ne(DemoModelFolder.BosTokenId);
            sum += nll.masked_select(keep).sum().item<float>();
            count += keep.sum().item<long>();
        }

        if (wasTraining)
        {
            model.train();
        }

        return (sum, count);
    }

    /// <summary>
    /// Unigram baseline: add-one smoothed token frequencies of the training stream, scored on exactly the
    /// targets <see cref="SumLoss"/> scores (same windows, &lt;s&gt; skipped).
    /// </summary>
    public static double UnigramMeanLoss(long[] train, long[] heldout, int vocabSize, int context)
    {
        var counts = new double[vocabSize];
        foreach (long id in train)
        {
            counts[id]++;
        }

        double total = train.Length + vocabSize;
        long windows = (heldout.Length - 1) / context;
        double sum = 0;
        long count = 0;
        for (long i = 1; i <= windows * context; i++)
        {
            long id = heldout[i];
            if (id == DemoModelFolder.BosTokenId)
            {
                continue;
            }

            sum -= Math.Log((counts[id] + 1) / total);
            count++;
        }

        return sum / count;
    }
}
