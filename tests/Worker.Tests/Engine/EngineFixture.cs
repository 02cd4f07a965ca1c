using Inference.Worker.Models;
using Inference.Worker.Runtime;

namespace Inference.Worker.Tests.Engine;

/// <summary>One generated model folder shared by the engine tests (each test builds its own runtime and engine).</summary>
public sealed class EngineFixture : IDisposable
{
    public EngineFixture()
    {
        Dir = Path.Combine(Path.GetTempPath(), "engine-" + Guid.NewGuid().ToString("N"));
        RandomModelWriter.Write(Dir, TestModels.Config(ModelArchitecture.Llama) with { VocabSize = 400, MaxPositionEmbeddings = 512 }, seed: 21);
    }

    public string Dir { get; }

    public ModelRuntime Runtime(string kvMemory = "8MiB", int blockSize = 4) =>
        ModelRuntime.Load(new WorkerOptions { ModelDir = Dir, KvCacheMemory = kvMemory, BlockSize = blockSize });

    public void Dispose()
    {
        if (Directory.Exists(Dir))
        {
            Directory.Delete(Dir, recursive: true);
        }
    }
}
