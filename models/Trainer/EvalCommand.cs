using System.CommandLine;
using System.Globalization;
using Inference.Worker.Loading;
using Inference.Worker.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Inference.Trainer;

/// <summary>`eval`: held-out perplexity of a model folder (its float16 weights, computed in float32) vs a unigram baseline.</summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "Folder from prepare_data.sh", Required = true };
        var model = new Option<string>("--model") { Description = "Model folder", Required = true };
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => 2 };
        var context = new Option<int?>("--context") { Description = "Window length (default: the model's max_position_embeddings)" };
        var command = new Command("eval", "Held-out perplexity of a model folder and of a unigram baseline on the same tokens") { data, model, threads, context };
        command.SetAction(parse => Run(parse.GetValue(data)!, parse.GetValue(model)!, parse.GetValue(threads), parse.GetValue(context)));
        return command;
    }

    private static int Run(string dataDir, string modelDir, int threads, int? windowLength)
    {
        torch.set_num_threads(threads);
        long[] train = TokenStream.Read(Path.Combine(dataDir, "train.ids"));
        long[] heldoutIds = TokenStream.Read(Path.Combine(dataDir, "heldout.ids"));
        ModelConfig config = ModelConfigReader.Read(modelDir);
        using var checkpoint = CheckpointReader.Open(modelDir);
        using LlamaTrainingModel model = LlamaTrainingModel.Load(config, checkpoint);
        using Tensor heldout = tensor(heldoutIds);
        int context = windowLength ?? config.MaxPositionEmbeddings;
        (double sum, long count) = Evaluate.SumLoss(model, heldout, context);
        double unigram = Evaluate.UnigramMeanLoss(train, heldoutIds, config.VocabSize, context);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"held-out tokens scored: {count:N0} (windows of {context}, <s> targets skipped)"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"model:   loss {sum / count:F4} nats/token, perplexity {Math.Exp(sum / count):F2}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"unigram: loss {unigram:F4} nats/token, perplexity {Math.Exp(unigram):F2} (add-one smoothed train frequencies)"));
        return 0;
    }
}
