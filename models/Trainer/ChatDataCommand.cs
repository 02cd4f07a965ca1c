using System.CommandLine;
using System.Globalization;
using System.Text;
using Inference.Worker.Tokenization;

namespace Inference.Trainer;

/// <summary>
/// `chat-data`: renders <see cref="ChatData"/> conversations through the model folder's own chat template and
/// tokenizer (so training sees exactly the ids the server feeds) and writes them as uint16 token streams:
/// chat_train.ids from train.txt and chat_heldout.ids from heldout.txt, plus chat_samples.txt to read.
/// </summary>
internal static class ChatDataCommand
{
    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "Folder from prepare_data.sh (train.txt, heldout.txt, brown_lines.txt)", Required = true };
        var model = new Option<string>("--model") { Description = "Model folder whose tokenizer and chat template render the conversations", Required = true };
        var conversations = new Option<int>("--conversations") { DefaultValueFactory = _ => 60_000 };
        var heldoutConversations = new Option<int>("--heldout-conversations") { DefaultValueFactory = _ => 2_000 };
        var seed = new Option<int>("--seed") { DefaultValueFactory = _ => 1234 };
        var command = new Command("chat-data", "Build chat conversations from the corpus and write them as token streams")
        {
            data, model, conversations, heldoutConversations, seed,
        };
        command.SetAction(parse => Run(
            parse.GetValue(data)!, parse.GetValue(model)!, parse.GetValue(conversations), parse.GetValue(heldoutConversations), parse.GetValue(seed)));
        return command;
    }

    private static int Run(string dataDir, string modelDir, int conversations, int heldoutConversations, int seed)
    {
        ModelTokenizer tokenizer = ModelTokenizer.Load(modelDir);
        Dictionary<string, int> brownLines = File.ReadAllLines(Path.Combine(dataDir, "brown_lines.txt"))
            .Select(l => l.Split(' '))
            .ToDictionary(p => p[0], p => int.Parse(p[1], CultureInfo.InvariantCulture));
        using var samples = new StreamWriter(Path.Combine(dataDir, "chat_samples.txt"), append: false, new UTF8Encoding(false));
        foreach ((string split, int count, int splitSeed) in new[] { ("train", conversations, seed), ("heldout", heldoutConversations, seed + 1) })
        {
            string[] lines = File.ReadAllLines(Path.Combine(dataDir, split + ".txt"));
            var builder = new ChatData(lines, brownLines[split], tokenizer, splitSeed);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{split}: {builder.GoodSentences:N0} answer sentences, {builder.Questions:N0} questions"));
            using var output = new BinaryWriter(File.Create(Path.Combine(dataDir, $"chat_{split}.ids")));
            long tokens = 0;
            int longest = 0;
            for (int i = 0; i < count; i++)
            {
                List<ChatMessage> conversation = builder.NextConversation();
                int[] ids = builder.Encode(conversation);
                foreach (int id in ids)
                {
                    output.Write(checked((ushort)id));
                }

                tokens += ids.Length;
                longest = Math.Max(longest, ids.Length);
                if (split == "train" && i < 300)
                {
                    samples.WriteLine(string.Join("\n", conversation.Select(m => $"[{m.Role}] {m.Content}")));
                    samples.WriteLine();
                }

                if ((i + 1) % 10_000 == 0)
                {
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {i + 1:N0} / {count:N0} conversations, {tokens:N0} tokens"));
                }
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"chat_{split}.ids: {count:N0} conversations, {tokens:N0} tokens (mean {(double)tokens / count:F0}, longest {longest})"));
        }

        return 0;
    }
}
