using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Inference.LoadGen.Reporting;
using Inference.LoadGen.Serving;

namespace Inference.LoadTests.Scenarios;

/// <summary>
/// disconnect-storm: --streams (1,000) SSE streams opened at once, each dropped by the client after a random number of
/// events (0 to the whole answer). Afterwards no sequence is left running or waiting and the KV cache holds no
/// blocks of theirs (inference_kv_cache_usage_perc back to its level before), and every request is metered exactly
/// once: inference_request_total grows by exactly --streams.
/// </summary>
public static class DisconnectStorm
{
    public static async Task<ScenarioResult> RunAsync(StackClient stack, CommandArgs args, TextWriter log, CancellationToken cancellationToken)
    {
        int streams = args.Int("--streams", 1000);
        int maxTokens = args.Int("--output-len", 64);
        TimeSpan settle = TimeSpan.FromSeconds(args.Double("--settle-seconds", 60));
        IReadOnlyList<BenchRequest> prompts = stack.Prompts(Math.Min(streams, 128), args.Int("--input-len", 32), maxTokens);
        using (IServingBackend probe = stack.Backend())
        {
            await StackClient.WaitServingAsync(probe, prompts[0], TimeSpan.FromSeconds(60), cancellationToken);
        }

        (double admittedBefore, double refusedBefore) = await stack.AccountedAsync(cancellationToken);
        double kvBefore = await stack.MetricAsync("inference_kv_cache_usage_perc", cancellationToken: cancellationToken);
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue }) { Timeout = TimeSpan.FromMinutes(5) };
        var random = new Random(11);
        int[] dropAfter = Enumerable.Range(0, streams).Select(_ => random.Next(maxTokens + 1)).ToArray();
        int opened = 0, refused = 0, completedBeforeDrop = 0;
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        log.WriteLine($"disconnect-storm: {streams} streams, each dropped after 0..{maxTokens} events");
        await Task.WhenAll(Enumerable.Range(0, streams).Select(async i =>
        {
            BenchRequest prompt = prompts[i % prompts.Count];
            var body = new JsonObject
            {
                ["model"] = stack.Model,
                ["prompt"] = prompt.Prompt,
                ["max_tokens"] = maxTokens,
                ["ignore_eos"] = true,
                ["stream"] = true,
            };
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(stack.BaseUrl, "v1/completions"))
            {
                Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"),
            };
            if (stack.ApiKey is not null)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", stack.ApiKey);
            }

            try
            {
                using HttpResponseMessage response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
                if (!response.IsSuccessStatusCode)
                {
                    Interlocked.Increment(ref refused); // refused requests are metered too
                    return;
                }

                Interlocked.Increment(ref opened);
                using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken));
                int events = 0;
                while (events < dropAfter[i] && await reader.ReadLineAsync(cancellationToken) is { } line)
                {
                    if (line.StartsWith("data:", StringComparison.Ordinal))
                    {
                        if (line.Contains("[DONE]", StringComparison.Ordinal))
                        {
                            Interlocked.Increment(ref completedBeforeDrop);
                            break;
                        }

                        events++;
                    }
                }

                // Leaving the using blocks drops the connection mid-stream.
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException)
            {
                failures.Add(ex.Message);
            }
        }));

        // The gateway notices each drop at its next write; give it time to finish its bookkeeping.
        var clock = Stopwatch.StartNew();
        double metered, running, waiting, kv;
        do
        {
            await Task.Delay(500, cancellationToken);
            metered = Sum(await stack.AccountedAsync(cancellationToken)) - admittedBefore - refusedBefore;
            running = await stack.MetricAsync("inference_num_requests_running", cancellationToken: cancellationToken);
            waiting = await stack.MetricAsync("inference_num_requests_waiting", cancellationToken: cancellationToken);
            kv = await stack.MetricAsync("inference_kv_cache_usage_perc", cancellationToken: cancellationToken);
        }
        while ((metered < streams || running > 0 || waiting > 0 || kv > kvBefore + 1e-9) && clock.Elapsed < settle);

        // A late double count would show after the first match; look once more.
        await Task.Delay(1000, cancellationToken);
        (double admittedAfter, double refusedAfter) = await stack.AccountedAsync(cancellationToken);
        metered = admittedAfter + refusedAfter - admittedBefore - refusedBefore;
        var result = new ScenarioResult("disconnect-storm");
        result.Check("every stream opened or was refused cleanly", failures.IsEmpty, $"{opened} opened, {refused} refused, {failures.Count} connection failures{(failures.IsEmpty ? string.Empty : ": " + failures.First())}");
        result.Check("no sequence left running or waiting", running == 0 && waiting == 0, $"running {running}, waiting {waiting} after {clock.Elapsed.TotalSeconds:0.0} s");
        result.Check("no leaked KV blocks", kv <= kvBefore + 1e-9, $"KV cache usage {kv:0.####} (before {kvBefore:0.####})");
        result.Check("each request metered exactly once", metered == streams && admittedAfter - admittedBefore >= opened,
            $"{streams} requests ({opened} streams opened): metered {admittedAfter - admittedBefore} admitted + {refusedAfter - refusedBefore} refused before admission");
        result.Notes.Add($"{completedBeforeDrop} answers finished before their drop point");
        return result;
    }

    private static double Sum((double A, double B) pair) => pair.A + pair.B;
}
