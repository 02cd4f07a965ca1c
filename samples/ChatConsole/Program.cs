using Inference.Client;
using Microsoft.Extensions.AI;

// A chat in the terminal through IChatClient: the answer streams token by token, the conversation is kept and sent
// whole each turn (the gateway is stateless). Settings: --endpoint/--key/--model/--system/--max-tokens, else the
// INFERENCE_ENDPOINT, INFERENCE_API_KEY and INFERENCE_MODEL variables, else the local defaults.
Dictionary<string, string> flags = ParseFlags(args);
if (flags.ContainsKey("help"))
{
    Console.WriteLine("usage: ChatConsole [--endpoint http://127.0.0.1:8001] [--key sk-...] [--model brown-llama-5m] [--system TEXT] [--max-tokens 256]");
    Console.WriteLine("in the chat: /reset starts over, /exit (or an empty line at end of input) quits");
    return 0;
}

var endpoint = new Uri(Setting("endpoint", "INFERENCE_ENDPOINT") ?? "http://127.0.0.1:8001");
string? key = Setting("key", "INFERENCE_API_KEY");
string model = Setting("model", "INFERENCE_MODEL") ?? "brown-llama-5m";
string? system = Setting("system", null);
int maxTokens = int.Parse(Setting("max-tokens", null) ?? "256", System.Globalization.CultureInfo.InvariantCulture);

// The one line that picks the provider; everything below works with any IChatClient.
using IChatClient client = new InferenceChatClient(endpoint, key, model);

var options = new ChatOptions { MaxOutputTokens = maxTokens };
List<ChatMessage> history = Fresh();
// Ctrl+C while an answer streams stops that answer (the call is cancelled, the gateway aborts the request); at the
// prompt it ends the program as usual.
CancellationTokenSource? answering = null;
Console.CancelKeyPress += (_, e) =>
{
    if (Volatile.Read(ref answering) is { } turn)
    {
        e.Cancel = true;
        turn.Cancel();
    }
};

Console.WriteLine($"chatting with {model} at {endpoint} (/reset, /exit)");
while (true)
{
    Console.Write("> ");
    string? line = Console.ReadLine();
    if (line is null or "/exit")
    {
        return 0;
    }

    if (line == "/reset")
    {
        history = Fresh();
        continue;
    }

    if (line.Trim().Length == 0)
    {
        continue;
    }

    history.Add(new ChatMessage(ChatRole.User, line));
    var updates = new List<ChatResponseUpdate>();
    using var turn = new CancellationTokenSource();
    Volatile.Write(ref answering, turn);
    try
    {
        await foreach (ChatResponseUpdate update in client.GetStreamingResponseAsync(history, options, turn.Token))
        {
            Console.Write(update.Text);
            updates.Add(update);
        }

        ChatResponse response = updates.ToChatResponse();
        history.AddMessages(response);
        Console.WriteLine();
        Console.WriteLine($"  [{response.FinishReason}, {response.Usage?.InputTokenCount} prompt + {response.Usage?.OutputTokenCount} completion tokens]");
    }
    catch (OperationCanceledException)
    {
        Console.WriteLine(" [stopped]");
        history.AddMessages(updates); // keep what was said before the stop
    }
    catch (InferenceServiceException ex)
    {
        Console.WriteLine();
        Console.Error.WriteLine($"error: {ex.Message}");
        history.RemoveAt(history.Count - 1);
    }
    finally
    {
        Volatile.Write(ref answering, null);
    }
}

List<ChatMessage> Fresh() => system is null ? [] : [new ChatMessage(ChatRole.System, system)];

string? Setting(string flag, string? variable) =>
    flags.TryGetValue(flag, out string? value) ? value : variable is null ? null : Environment.GetEnvironmentVariable(variable);

static Dictionary<string, string> ParseFlags(string[] args)
{
    var flags = new Dictionary<string, string>(StringComparer.Ordinal);
    for (int i = 0; i < args.Length; i++)
    {
        string arg = args[i];
        if (!arg.StartsWith("--", StringComparison.Ordinal))
        {
            throw new ArgumentException($"unexpected argument '{arg}' (try --help)");
        }

        string name = arg[2..];
        flags[name] = name == "help" ? "true" : i + 1 < args.Length ? args[++i] : throw new ArgumentException($"--{name} needs a value");
    }

    return flags;
}
