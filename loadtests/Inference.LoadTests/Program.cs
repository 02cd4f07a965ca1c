using Inference.LoadTests;

// Load scenarios with pass/fail criteria against a running stack; exit 0 pass, 1 fail, 2 bad usage.
// Usage: Inference.LoadTests SCENARIO [--base-url URL ...] [--model ID] [--api-key KEY] [--tokenizer DIR] [scenario options]
// Scenarios and their options: loadtests/README.md.
return await LoadTestCommand.RunAsync(args, Console.Out, Console.Error, CancellationToken.None);
