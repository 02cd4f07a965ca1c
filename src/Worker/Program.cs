using System.CommandLine;
using Inference.Worker.Cli;

var root = new RootCommand("Inference worker: runs Llama-family models on TorchSharp with a paged KV cache")
{
    GenerateCommand.Create(),
    CreateRandomModelCommand.Create(),
};
return await root.Parse(args).InvokeAsync();
