using System.CommandLine;
using Inference.Worker.Cli;

// Before anything touches CUDA: number GPUs as NVML does (CUDA_DEVICE_ORDER=PCI_BUS_ID unless set), so the device
// check and GPU telemetry look at the GPU that cuda:N runs on.
Inference.Worker.Gpu.CudaDeviceOrder.UsePciBusOrderUnlessSet();

var root = new RootCommand("Inference worker: runs Llama-family models on TorchSharp with a paged KV cache")
{
    GenerateCommand.Create(),
    ServeCommand.Create(),
};
ParseResult parse = root.Parse(args);

// `serve` handles SIGTERM/SIGINT itself (a drain may take --drain-timeout); System.CommandLine would force
// the process down 2 s after the signal.
var invocation = new InvocationConfiguration();
if (parse.CommandResult.Command.Name == ServeCommand.Name)
{
    invocation.ProcessTerminationTimeout = null;
}

return await parse.InvokeAsync(invocation);
