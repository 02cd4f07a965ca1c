namespace Inference.Gateway.Metering;

/// <summary>Writes every record to each of several sinks; one failing does not keep the others from their record.</summary>
public sealed class CompositeUsageSink : IUsageSink
{
    private readonly IUsageSink[] _sinks;

    /// <summary>Creates the composite over <paramref name="sinks"/>, written in order.</summary>
    public CompositeUsageSink(params IUsageSink[] sinks)
    {
        ArgumentNullException.ThrowIfNull(sinks);
        _sinks = [.. sinks];
    }

    /// <inheritdoc/>
    public async ValueTask WriteAsync(UsageRecord record, CancellationToken ct)
    {
        List<Exception>? errors = null;
        foreach (var sink in _sinks)
        {
            try
            {
                await sink.WriteAsync(record, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                (errors ??= []).Add(e);
            }
        }

        if (errors is not null)
        {
            throw new AggregateException("One or more usage sinks failed.", errors);
        }
    }
}
