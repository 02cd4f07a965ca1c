using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Inference.Worker.Loading;
using Inference.Worker.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Inference.Trainer;

/// <summary>
/// `train`: AdamW with linear warmup and cosine decay over random fixed-length windows of the training
/// stream, float32 on the CPU. The schedule runs over a step count (--steps, reproducible) or a wall-clock
/// budget (--minutes: the schedule's progress is elapsed / budget, so the run ends on time under load).
/// Writes the Hugging Face folder every --checkpoint-minutes and at the end, and a CSV loss log.
/// </summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "Folder from prepare_data.sh (train.ids, heldout.ids, tokenizer.model)", Required = true };
        var output = new Option<string>("--out") { Description = "Model folder to write", Required = true };
        var minutes = new Option<double>("--minutes") { Description = "Wall-clock training budget", DefaultValueFactory = _ => 60 };
        var steps = new Option<int?>("--steps") { Description = "Fixed step count instead of a time budget" };
        var hidden = new Option<int>("--hidden") { DefaultValueFactory = _ => 256 };
        var layers = new Option<int>("--layers") { DefaultValueFactory = _ => 6 };
        var heads = new Option<int>("--heads") { DefaultValueFactory = _ => 4 };
        var kvHeads = new Option<int>("--kv-heads") { DefaultValueFactory = _ => 2 };
        var intermediate = new Option<int>("--intermediate") { DefaultValueFactory = _ => 512 };
        var context = new Option<int>("--context") { DefaultValueFactory = _ => 256 };
        var batch = new Option<int>("--batch") { DefaultValueFactory = _ => 16 };
        var lr = new Option<double>("--lr") { DefaultValueFactory = _ => 2e-3 };
        var warmup = new Option<double>("--warmup") { Description = "Warmup as a fraction of the run", DefaultValueFactory = _ => 0.03 };
        var checkpointMinutes = new Option<double>("--checkpoint-minutes") { DefaultValueFactory = _ => 10 };
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => 2 };
        var seed = new Option<long>("--seed") { DefaultValueFactory = _ => 1234 };
        var init = new Option<string?>("--init") { Description = "Continue from this model folder's weights (its architecture; --context may lengthen it)" };
        var chat = new Option<bool>("--chat") { Description = "Mix in chat_train.ids from chat-data (held-out chat loss from chat_heldout.ids)" };
        var chatFraction = new Option<double>("--chat-fraction") { Description = "Share of each batch's windows drawn from the chat stream", DefaultValueFactory = _ => 0.5 };

        var command = new Command("train", "Train the demo model and write it as a Hugging Face folder")
        {
            data, output, minutes, steps, hidden, layers, heads, kvHeads, intermediate, context, batch, lr, warmup,
            checkpointMinutes, threads, seed, init, chat, chatFraction,
        };
        command.SetAction(parse =>
        {
            var settings = new TrainSettings(
                parse.GetValue(data)!, parse.GetValue(output)!, parse.GetValue(minutes), parse.GetValue(steps),
                parse.GetValue(context), parse.GetValue(batch), parse.GetValue(lr), parse.GetValue(warmup),
                parse.GetValue(checkpointMinutes), parse.GetValue(threads), parse.GetValue(seed),
                parse.GetValue(init), parse.GetValue(chat) ? parse.GetValue(chatFraction) : 0);
            if (settings.Init is not null)
            {
                // The architecture is the initial folder's; only the context follows --context (RoPE tables are rebuilt for it).
                ModelConfig initial = ModelConfigReader.Read(settings.Init);
                return Run(initial with { MaxPositionEmbeddings = settings.Context }, settings);
            }

            var config = new ModelConfig
            {
                Architecture = ModelArchitecture.Llama,
                ArchitectureName = "LlamaForCausalLM",
                VocabSize = 4096,
                HiddenSize = parse.GetValue(hidden),
                IntermediateSize = parse.GetValue(intermediate),
                NumHiddenLayers = parse.GetValue(layers),
                NumAttentionHeads = parse.GetValue(heads),
                NumKeyValueHeads = parse.GetValue(kvHeads),
                HeadDim = parse.GetValue(hidden) / parse.GetValue(heads),
                RmsNormEps = 1e-5,
                RopeTheta = 10000,
                MaxPositionEmbeddings = parse.GetValue(context),
                TieWordEmbeddings = true,
                AttentionBias = false,
            };
            return Run(config, settings);
        });
        return command;
    }

    private sealed record TrainSettings(
        string Data, string Out, double Minutes, int? Steps, int Context, int Batch, double Lr, double Warmup,
        double CheckpointMinutes, int Threads, long Seed, string? Init, double ChatFraction);

    private static int Run(ModelConfig config, TrainSettings s)
    {
        torch.set_num_threads(s.Threads);
        torch.manual_seed(s.Seed);
        long[] trainIds = TokenStream.Read(Path.Combine(s.Data, "train.ids"));
        long[] heldoutIds = TokenStream.Read(Path.Combine(s.Data, "heldout.ids"));
        string tokenizerModel = Path.Combine(s.Data, "tokenizer.model");
        using Tensor train = tensor(trainIds);
        using Tensor heldout = tensor(heldoutIds);
        long[] chatIds = s.ChatFraction > 0 ? TokenStream.Read(Path.Combine(s.Data, "chat_train.ids")) : [];
        using Tensor chat = tensor(chatIds);
        using Tensor chatHeldout = tensor(s.ChatFraction > 0 ? TokenStream.Read(Path.Combine(s.Data, "chat_heldout.ids")) : []);
        int chatWindows = (int)Math.Round(s.Batch * s.ChatFraction);

        using LlamaTrainingModel model = LoadOrCreate(config, s);
        long parameters = model.parameters().Sum(p => p.numel());
        (IReadOnlyList<Parameter> decay, IReadOnlyList<Parameter> noDecay) = model.ParameterGroups();
        using var optimizer = torch.optim.AdamW(
            [
                new AdamW.ParamGroup(decay, new AdamW.Options { weight_decay = 0.1 }),
                new AdamW.ParamGroup(noDecay, new AdamW.Options { weight_decay = 0 }),
            ],
            s.Lr, beta1: 0.9, beta2: 0.95, eps: 1e-8);

        Directory.CreateDirectory(s.Out);
        string logPath = Path.Combine(s.Out, "training_log.csv");
        using var log = new StreamWriter(logPath) { AutoFlush = true };
        log.WriteLine("step,elapsed_s,tokens,lr,train_loss,heldout_loss,chat_heldout_loss");
        long tokensPerStep = (long)s.Batch * s.Context;
        Console.WriteLine(Invariant($"model: {parameters:N0} parameters ({config.NumHiddenLayers} layers, hidden {config.HiddenSize}, {config.NumAttentionHeads} heads / {config.NumKeyValueHeads} kv, intermediate {config.IntermediateSize}, vocab {config.VocabSize}, context {config.MaxPositionEmbeddings})"));
        Console.WriteLine(Invariant($"data: {trainIds.Length:N0} train tokens, {heldoutIds.Length:N0} held-out tokens; {tokensPerStep} tokens/step ({chatWindows} of {s.Batch} windows from {chatIds.Length:N0} chat tokens); budget {(s.Steps is int n ? $"{n} steps" : $"{s.Minutes} min")}; {torch.get_num_threads()} threads"));

        var random = new Random((int)s.Seed);
        var clock = Stopwatch.StartNew();
        double budgetSeconds = s.Minutes * 60;
        double nextCheckpoint = s.CheckpointMinutes * 60;
        double lossSum = 0;
        int lossCount = 0;
        double lastReport = 0;
        long lastReportTokens = 0;
        int step = 0;
        while (true)
        {
            double progress = s.Steps is int total ? (double)step / total : clock.Elapsed.TotalSeconds / budgetSeconds;
            if (progress >= 1)
            {
                break;
            }

            double lr = LearningRate(s.Lr, s.Warmup, progress);
            foreach (var group in optimizer.ParamGroups)
            {
                group.LearningRate = lr;
            }

            using (var scope = NewDisposeScope())
            {
                Tensor windows = chatWindows == 0 ? SampleWindows(train, s.Batch, s.Context, random)
                    : cat([SampleWindows(train, s.Batch - chatWindows, s.Context, random), SampleWindows(chat, chatWindows, s.Context, random)], 0);
                Tensor input = windows.narrow(1, 0, s.Context);
                Tensor target = windows.narrow(1, 1, s.Context);
                Tensor logits = model.forward(input);
                Tensor loss = F.cross_entropy(logits.view(-1, config.VocabSize), target.reshape(-1));
                optimizer.zero_grad();
                loss.backward();
                nn.utils.clip_grad_norm_(model.parameters(), 1.0);
                optimizer.step();
                lossSum += loss.item<float>();
                lossCount++;
            }

            step++;
            double elapsed = clock.Elapsed.TotalSeconds;
            if (step % 10 == 0 || step == 1)
            {
                double trainLoss = lossSum / lossCount;
                long tokens = step * tokensPerStep;
                double rate = (tokens - lastReportTokens) / Math.Max(1e-9, elapsed - lastReport);
                double done = s.Steps is int t2 ? (double)step / t2 : elapsed / budgetSeconds;
                double eta = done > 0 ? (elapsed / done) - elapsed : 0;
                log.WriteLine(Invariant($"{step},{elapsed:F1},{tokens},{lr:E3},{trainLoss:F4},,"));
                Console.WriteLine(Invariant($"step {step,6} | {done * 100,5:F1}% | loss {trainLoss:F4} | lr {lr:E2} | {rate:F0} tok/s | {elapsed / 60:F1} min elapsed, ETA {eta / 60:F1} min"));
                lossSum = 0;
                lossCount = 0;
                lastReport = elapsed;
                lastReportTokens = tokens;
            }

            if (elapsed >= nextCheckpoint)
            {
                Checkpoint(model, heldout, chatHeldout, s, step, elapsed, tokensPerStep, tokenizerModel, log);
                nextCheckpoint = clock.Elapsed.TotalSeconds + (s.CheckpointMinutes * 60);
            }
        }

        Checkpoint(model, heldout, chatHeldout, s, step, clock.Elapsed.TotalSeconds, tokensPerStep, tokenizerModel, log);
        Console.WriteLine(Invariant($"done: {step} steps, {step * tokensPerStep:N0} tokens in {clock.Elapsed.TotalMinutes:F1} min; model in {s.Out}"));
        return 0;
    }

    private static void Checkpoint(
        LlamaTrainingModel model, Tensor heldout, Tensor chatHeldout, TrainSettings s, int step, double elapsed, long tokensPerStep, string tokenizerModel, StreamWriter log)
    {
        // The plain-text probe uses 256-token windows, the length the first model was trained and scored at, so
        // the curve stays comparable across the two stages; the chat probe uses the training context.
        double heldoutLoss = Evaluate.MeanLoss(model, heldout, Math.Min(s.Context, 256), maxWindows: 48);
        string chatLoss = chatHeldout.shape[0] > s.Context + 1 ? Invariant($"{Evaluate.MeanLoss(model, chatHeldout, s.Context, maxWindows: 12):F4}") : string.Empty;
        log.WriteLine(Invariant($"{step},{elapsed:F1},{step * tokensPerStep},,,{heldoutLoss:F4},{chatLoss}"));
        DemoModelFolder.Write(s.Out, model, tokenizerModel);
        Console.WriteLine(Invariant($"checkpoint at step {step}: held-out loss {heldoutLoss:F4} (ppl {Math.Exp(heldoutLoss):F2}){(chatLoss.Length > 0 ? $", chat held-out loss {chatLoss}" : string.Empty)} -> {s.Out}"));
    }

    private static LlamaTrainingModel LoadOrCreate(ModelConfig config, TrainSettings s)
    {
        if (s.Init is null)
        {
            return LlamaTrainingModel.Create(config, s.Seed);
        }

        using var checkpoint = CheckpointReader.Open(s.Init);
        return LlamaTrainingModel.Load(config, checkpoint);
    }

    // Linear warmup to the peak, then cosine down to 10% of it.
    private static double LearningRate(double peak, double warmup, double progress)
    {
        if (progress < warmup)
        {
            return peak * (progress + 1e-3) / warmup;
        }

        double t = (progress - warmup) / (1 - warmup);
        return peak * (0.1 + (0.9 * 0.5 * (1 + Math.Cos(Math.PI * t))));
    }

    private static Tensor SampleWindows(Tensor stream, int batch, int context, Random random)
    {
        long limit = stream.shape[0] - context - 1;
        var starts = new long[batch];
        for (int i = 0; i < batch; i++)
        {
            starts[i] = random.NextInt64(limit);
        }

        Tensor index = tensor(starts).unsqueeze(1) + arange(context + 1, ScalarType.Int64).unsqueeze(0);
        return stream.index_select(0, index.reshape(-1)).view(batch, context + 1);
    }

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
