using System.CommandLine;
using Inference.TestSupport;
using Inference.Worker.Models;

namespace Inference.Bench;

/// <summary>`create-random-model`: writes a model folder with random weights (benchmarks and smoke runs of other architectures).</summary>
internal static class CreateRandomModelCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "Folder to write", Required = true };
        var arch = new Option<string>("--arch") { Description = "llama, llama3, qwen2 or mistral", DefaultValueFactory = _ => "llama" };
        var hidden = new Option<int>("--hidden-size") { DefaultValueFactory = _ => 128 };
        var layers = new Option<int>("--layers") { DefaultValueFactory = _ => 2 };
        var heads = new Option<int>("--heads") { DefaultValueFactory = _ => 4 };
        var kvHeads = new Option<int>("--kv-heads") { DefaultValueFactory = _ => 2 };
        var intermediate = new Option<int>("--intermediate-size") { DefaultValueFactory = _ => 344 };
        var vocab = new Option<int>("--vocab-size") { DefaultValueFactory = _ => 1024 };
        var maxPositions = new Option<int>("--max-position-embeddings") { DefaultValueFactory = _ => 2048 };
        var seed = new Option<long>("--seed") { DefaultValueFactory = _ => 0 };
        var dtype = new Option<string>("--dtype") { Description = "F32, F16 or BF16 storage", DefaultValueFactory = _ => "F32" };

        var command = new Command("create-random-model", "Write a Hugging Face model folder with deterministic random weights")
        {
            output, arch, hidden, layers, heads, kvHeads, intermediate, vocab, maxPositions, seed, dtype,
        };
        command.SetAction(parse =>
        {
            string a = parse.GetValue(arch)!;
            int h = parse.GetValue(hidden);
            int n = parse.GetValue(heads);
            if (n <= 0 || h % n != 0 || parse.GetValue(kvHeads) <= 0 || n % parse.GetValue(kvHeads) != 0)
            {
                Console.Error.WriteLine("error: --hidden-size must be divisible by --heads, and --heads by --kv-heads.");
                return 2;
            }

            (ModelArchitecture architecture, string name) = a switch
            {
                "llama" or "llama3" => (ModelArchitecture.Llama, "LlamaForCausalLM"),
                "qwen2" => (ModelArchitecture.Qwen2, "Qwen2ForCausalLM"),
                "mistral" => (ModelArchitecture.Mistral, "MistralForCausalLM"),
                _ => (ModelArchitecture.Llama, string.Empty),
            };
            if (name.Length == 0)
            {
                Console.Error.WriteLine($"error: --arch '{a}' is not one of llama, llama3, qwen2, mistral.");
                return 2;
            }

            var config = new ModelConfig
            {
                Architecture = architecture,
                ArchitectureName = name,
                VocabSize = parse.GetValue(vocab),
                HiddenSize = h,
                IntermediateSize = parse.GetValue(intermediate),
                NumHiddenLayers = parse.GetValue(layers),
                NumAttentionHeads = n,
                NumKeyValueHeads = parse.GetValue(kvHeads),
                HeadDim = h / n,
                RmsNormEps = 1e-5,
                RopeTheta = a == "llama3" ? 500000 : a == "qwen2" ? 1000000 : 10000,
                RopeScaling = a == "llama3" ? new RopeScaling("llama3", 8, 1, 4, 256) : null,
                MaxPositionEmbeddings = parse.GetValue(maxPositions),
                TieWordEmbeddings = a is "llama3" or "qwen2",
                AttentionBias = architecture == ModelArchitecture.Qwen2,
            };
            string dir = parse.GetValue(output)!;
            RandomModelWriter.Write(dir, config, parse.GetValue(seed), parse.GetValue(dtype)!);
            Console.Error.WriteLine($"Wrote {name} with random weights to {dir}.");
            return 0;
        });
        return command;
    }
}
