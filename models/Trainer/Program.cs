using System.CommandLine;
using Inference.Trainer;

var root = new RootCommand("Trains and evaluates the bundled demo model (a small Llama) on TorchSharp")
{
    TrainCommand.Create(),
    EvalCommand.Create(),
    ChatDataCommand.Create(),
    ChatEvalCommand.Create(),
};
return root.Parse(args).Invoke();
