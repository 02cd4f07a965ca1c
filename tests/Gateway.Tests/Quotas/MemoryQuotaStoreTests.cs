using Inference.Gateway.Quotas;

namespace Inference.Gateway.Tests.Quotas;

public sealed class MemoryQuotaStoreTests : QuotaStoreContractTests
{
    protected override Task<IQuotaStore> CreateStoreAsync() => Task.FromResult<IQuotaStore>(new MemoryQuotaStore());

    protected override Task<IQuotaStore> CreateReplicaAsync(IQuotaStore store) => Task.FromResult(store);
}
