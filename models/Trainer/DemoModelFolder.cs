using System.Text.Json;
using Inference.Worker.Loading;
using Inference.Worker.Models;
using Inference.Worker.Tokenization;
using static TorchSharp.torch;

namespace Inference.Trainer;

/// <summary>Writes the trained model as a Hugging Face folder the runtime (and transformers) can load.</summary>
internal static class DemoModelFolder
{
    // Llama 2's chat template (ChatTemplate detects it as the llama2 family); the chat stage of training
    // renders its conversations through this template (chat-data), so served chat prompts match training.
    private const string Llama2Template = ChatTemplate.Llama2Text;

    public const int BosTokenId = 1;
    public const int EosTokenId = 2;

    /// <summary>Writes config.json, model.safetensors (float16), tokenizer files and generation_config.json into <paramref name="dir"/>.</summary>
    public static void Write(string dir, LlamaTrainingModel model, string tokenizerModel, string dtype = "F16")
    {
        string tmp = dir + ".writing";
        if (Directory.Exists(tmp))
        {
            Directory.Delete(tmp, recursive: true);
        }

        Directory.CreateDirectory(tmp);
        ModelConfigWriter.Write(tmp, model.Config, dtype, BosTokenId, EosTokenId);
        File.Copy(tokenizerModel, Path.Combine(tmp, "tokenizer.model"));
        WriteJson(Path.Combine(tmp, "tokenizer_config.json"), w =>
        {
            w.WriteBoolean("add_bos_token", true);
            w.WriteBoolean("add_eos_token", false);
            w.WriteString("bos_token", "<s>");
            w.WriteString("eos_token", "</s>");
            w.WriteString("unk_token", "<unk>");
            w.WriteNull("pad_token");
            w.WriteNumber("model_max_length", model.Config.MaxPositionEmbeddings);
            w.WriteBoolean("legacy", false);
            w.WriteString("tokenizer_class", "LlamaTokenizer");
            w.WriteString("chat_template", Llama2Template);
        });
        WriteJson(Path.Combine(tmp, "generation_config.json"), w =>
        {
            w.WriteNumber("bos_token_id", BosTokenId);
            w.WriteNumber("eos_token_id", EosTokenId);
            w.WriteBoolean("do_sample", true);
            w.WriteNumber("temperature", 0.8);
            w.WriteNumber("top_p", 0.9);
        });

        IReadOnlyList<(string Name, Tensor Tensor)> weights = model.ExportWeights();
        try
        {
            SafetensorsWriter.Write(Path.Combine(tmp, CheckpointReader.SingleFileName), weights, dtype);
        }
        finally
        {
            foreach ((_, Tensor t) in weights)
            {
                t.Dispose();
            }
        }

        // Replace only the files written here, so a model card (README.md) and loss curve in dir survive.
        Directory.CreateDirectory(dir);
        foreach (string file in Directory.GetFiles(tmp))
        {
            File.Move(file, Path.Combine(dir, Path.GetFileName(file)), overwrite: true);
        }

        Directory.Delete(tmp);
    }

    private static void WriteJson(string path, Action<Utf8JsonWriter> body)
    {
        using var stream = File.Create(path);
        using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        w.WriteStartObject();
        body(w);
        w.WriteEndObject();
    }
}
