using System.CommandLine;
using System.Globalization;

namespace Inference.Trainer;

/// <summary>`chat-eval`: the model card's chat samples and measures (<see cref="ChatEvaluation"/>), as Markdown on stdout.</summary>
internal static class ChatEvalCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model folder", Required = true };
        var dictionary = new Option<string>("--dictionary") { Description = "Word list, one word per line", DefaultValueFactory = _ => ChatEvaluation.DictionaryPath };
        var command = new Command("chat-eval", "Answer the chat check's prompts through the engine and report sentence, dictionary-word and EOS fractions")
        {
            model, dictionary,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            IReadOnlyList<ChatAnswer> answers = await ChatEvaluation.RunAsync(parse.GetValue(model)!, cancellationToken: cancellationToken).ConfigureAwait(false);
            ChatScores scores = ChatEvaluation.Score(answers, ChatEvaluation.LoadDictionary(parse.GetValue(dictionary)!));
            Console.WriteLine("| system | prompt | mode | answer | tokens | EOS |");
            Console.WriteLine("|---|---|---|---|---|---|");
            foreach (ChatAnswer a in answers)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {a.System ?? string.Empty} | {a.Prompt} | {a.Mode} | {a.Text.Replace("|", "\\|", StringComparison.Ordinal).ReplaceLineEndings(" ")} | {a.Tokens} | {(a.EndedWithEos ? "yes" : "no")} |"));
            }

            Console.WriteLine();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"answers without a system prompt: {scores.Answers}; sentences {scores.Sentences} ({scores.SentenceFraction:P0}); dictionary words {scores.DictionaryWords} of {scores.Words} ({scores.DictionaryFraction:P1}); ended with EOS {scores.EndedWithEos} ({scores.EosFraction:P0})"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"'{ChatEvaluation.OneSentenceSystem}': {scores.OneSentenceHonoured} of {scores.OneSentenceAnswers} answers are one sentence"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"answers repeating a content word of their prompt: {scores.OnTopic} of {scores.Answers}"));
            Console.WriteLine($"words not in the dictionary: {string.Join(", ", scores.Unknown)}");
            return 0;
        });
        return command;
    }
}
