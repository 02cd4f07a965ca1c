using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Inference.Bench;

// Usage: dotnet run -c Release --project bench/Inference.Bench -- runtime [--batches 1,8,32] [--prompt 128] [--decode 64] [--threads N] [--model DIR]
//          [--device cpu,cpu] [--pipeline-layers 3,3]
//          (runtime: through EngineCore.Step on a generated 25M model, or the folder given with --model; --libtorch-ops
//          runs decode on the reference path of libtorch ops instead of the host kernels; a --device list splits the
//          layers into pipeline stages, as the worker does)
//        dotnet run -c Release --project bench/Inference.Bench -- gemv [MODEL_DIR]
//          (host products against libtorch mm at decode shapes; with a model folder, forward-only decode of the three
//          paths interleaved in one process)
//        dotnet run -c Release --project bench/Inference.Bench -- serve [--backend openai-completions|openai-chat|grpc] [--base-url URL] ...
//          (serving benchmark against any OpenAI-compatible endpoint or our gRPC API; vllm bench serve's options and
//          definitions; `serve --help` lists them)
//        dotnet run -c Release --project bench/Inference.Bench -- sweep --out DIR --rates 1,2,4 [--setting max-num-seqs=8,32] --slo e2el:5000 ...
//          (serve over rates x engine settings, restarting our gateway per setting; resumable; recommends a setting)
//        dotnet run -c Release --project bench/Inference.Bench -- plan --plan deploy/plan/business-phases.json [--sweep sweep.json] [--out DIR]
//          (GPUs, utilisation and monthly cost per growth phase from a measured capacity and a traffic forecast)
//        dotnet run -c Release --project bench/Inference.Bench -- create-random-model --out DIR [--arch llama|llama3|qwen2|mistral] ...
//          (a model folder with deterministic random weights and a synthetic tokenizer)
//        dotnet run -c Release --project bench/Inference.Bench -- blocks [BenchmarkDotNet options]
//        dotnet run -c Release --project bench/Inference.Bench -- schedule [BenchmarkDotNet options]
//        dotnet run -c Release --project bench/Inference.Bench -- step [BenchmarkDotNet options]
//          (managed bytes allocated and time per decode EngineCore.Step on the bundled model, batch 1 and 32)
//        dotnet run -c Release --project bench/Inference.Bench -- engine [--concurrency 1,8,32] [--seconds 25] [--prefix-requests 16] [--threads N] [--model DIR]
//        dotnet run -c Release --project bench/Inference.Bench -- gateway [--concurrency 1,16] [--requests 40,160]
//          (gateway overhead: direct worker vs OpenAI HTTP SSE vs gRPC streaming, interleaved in one run; add
//          --artifacts-path DIR before `--` when sharing the machine)
//        dotnet run -c Release --project bench/Inference.Bench -- ledger [--records 5000] [--concurrency 1,16,128] [--postgres CONNECTION]
//          (usage-ledger writes: records per second and latency, each durable when it returns)
//        dotnet run -c Release --project bench/Inference.Bench -- constraints [STEPS]
//          (structured outputs: schema compile time small/large, mask time per state, decode step at batch 1 and 32
//          with and without constrained rows)

// Before anything touches CUDA: number GPUs as NVML does (CUDA_DEVICE_ORDER=PCI_BUS_ID unless set).
Inference.Worker.Gpu.CudaDeviceOrder.UsePciBusOrderUnlessSet();

if (args.Length > 0 && args[0] == "serve")
{
    return await Inference.LoadGen.Serving.ServeCommand.RunAsync(args[1..]);
}

if (args.Length > 0 && args[0] == "sweep")
{
    return await Inference.LoadGen.Sweeping.SweepCommand.RunAsync(args[1..]);
}

if (args.Length > 0 && args[0] == "plan")
{
    return Inference.LoadGen.Planning.PlanCommand.Run(args[1..]);
}

if (args.Length > 0 && args[0] == "golden")
{
    return GoldenCheck.Run(args[1..]);
}

if (args.Length > 0 && args[0] == "create-random-model")
{
    return await CreateRandomModelCommand.Create().Parse(args[1..]).InvokeAsync();
}

if (args.Length > 0 && args[0] == "blocks")
{
    BenchmarkRunner.Run<BlockManagerBenchmark>(args: args[1..]);
    return 0;
}

if (args.Length > 0 && args[0] == "schedule")
{
    BenchmarkRunner.Run<ScheduleBenchmark>(args: args[1..]);
    return 0;
}

if (args.Length > 0 && args[0] == "step")
{
    // In process: a generated benchmark project would not carry libtorch's native libraries.
    BenchmarkRunner.Run<StepBenchmark>(
        DefaultConfig.Instance.AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance)),
        args[1..]);
    return 0;
}

if (args.Length > 0 && args[0] == "gemv")
{
    if (args.Length > 1 && args[1] is "--help" or "-h")
    {
        Console.WriteLine("usage: Inference.Bench gemv [MODEL_DIR]");
        Console.WriteLine("  host products (GemvPool) against libtorch's mm at decode shapes; with a model folder, forward-only decode of the");
        Console.WriteLine("  libtorch, host-1-thread and host-2-thread paths interleaved in one process");
        return 0;
    }

    if (args.Length > 2)
    {
        Console.Error.WriteLine($"gemv: unexpected argument '{args[2]}' (usage: Inference.Bench gemv [MODEL_DIR])");
        return 2;
    }

    try
    {
        if (args.Length > 1) { GemvProbe.Run(args[1]); } else { GemvProbe.Run(); }
    }
    catch (Inference.Worker.Loading.ModelLoadException ex)
    {
        Console.Error.WriteLine($"error: {ex.Message}");
        return 2;
    }

    return 0;
}

if (args.Length > 0 && args[0] == "engine")
{
    return EngineBenchmark.Run(args[1..]);
}

if (args.Length > 0 && args[0] == "constraints")
{
    return ConstraintBenchmark.Run(args[1..]);
}

if (args.Length > 0 && args[0] == "ledger")
{
    return await LedgerBenchmark.RunAsync(args[1..]);
}

if (args.Length > 0 && args[0] == "gateway")
{
    return GatewayBenchmark.Run(args[1..]);
}

if (args.Length == 0 || (args[0] != "runtime" && args[0] != "profile"))
{
    Console.Error.WriteLine("usage: Inference.Bench serve|sweep|plan|golden|runtime|profile|gemv|create-random-model|blocks|schedule|step|engine|gateway|ledger [--batches 1,8,32] [--prompt 128] [--decode 64] [--threads N]");
    return 2;
}

int[] batches = [1, 8, 32];
int prompt = 128;
int decode = 64;
int threads = 0;
string? model = null;
string device = "cpu";
string? pipelineLayers = null;
string dtype = "float32";
bool hostKernels = true;
for (int i = 1; i < args.Length; i += 2)
{
    if (args[i] is "--help" or "-h")
    {
        Console.WriteLine($"usage: Inference.Bench {args[0]} [--batches 1,8,32] [--prompt 128] [--decode 64] [--threads N] [--model DIR] [--libtorch-ops] [--device cpu|cuda:N|LIST] [--pipeline-layers N,M,...] [--dtype float32|bfloat16|float16|auto]");
        Console.WriteLine("  prefill and decode throughput through EngineCore.Step; a --device list (e.g. cpu,cpu) splits the layers into pipeline stages");
        return 0;
    }

    if (args[i] == "--libtorch-ops")
    {
        hostKernels = false;
        i--;
        continue;
    }

    if (i + 1 >= args.Length)
    {
        Console.Error.WriteLine($"option {args[i]} needs a value");
        return 2;
    }

    switch (args[i])
    {
        case "--batches":
            batches = args[i + 1].Split(',').Select(int.Parse).ToArray();
            break;
        case "--prompt":
            prompt = int.Parse(args[i + 1]);
            break;
        case "--decode":
            decode = int.Parse(args[i + 1]);
            break;
        case "--threads":
            threads = int.Parse(args[i + 1]);
            break;
        case "--model":
            model = args[i + 1];
            break;
        case "--device":
            device = args[i + 1];
            break;
        case "--pipeline-layers":
            pipelineLayers = args[i + 1];
            break;
        case "--dtype":
            dtype = args[i + 1];
            break;
        default:
            Console.Error.WriteLine($"unknown option {args[i]}");
            return 2;
    }
}

// profile: --prompt is the decode context length, --decode the iterations per timing round.
return args[0] == "profile"
    ? ProfileBenchmark.Run(batches, prompt + 32, decode, threads)
    : RuntimeBenchmark.Run(batches, prompt, decode, threads, model, hostKernels, device, pipelineLayers, dtype);
