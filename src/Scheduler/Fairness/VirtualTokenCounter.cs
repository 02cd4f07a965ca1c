namespace Inference.Scheduler.Fairness;

/// <summary>
/// Virtual Token Counter (Sheng et al., "Fairness in Serving Large Language Models", OSDI'24): each
/// tenant's counter grows by the weighted tokens it is served, divided by its weight; the backlogged
/// tenant with the smallest counter goes next. A tenant that becomes active again is lifted to the
/// smallest counter among active tenants, so idle time banks no credit.
/// </summary>
public sealed class VirtualTokenCounter
{
    private readonly Dictionary<string, TenantState> _tenants = new(StringComparer.Ordinal);
    private readonly Func<string, double> _weightOf;

    /// <param name="weightOf">Tenant weight (> 0); a tenant with weight 2 gets twice the share of one with 1.</param>
    /// <param name="promptTokenCost">Cost of a prefilled token relative to an output token (VTC uses w_p &lt; w_q).</param>
    public VirtualTokenCounter(Func<string, double> weightOf, double promptTokenCost = 0.5, double outputTokenCost = 1.0)
    {
        ArgumentNullException.ThrowIfNull(weightOf);
        _weightOf = weightOf;
        PromptTokenCost = promptTokenCost;
        OutputTokenCost = outputTokenCost;
    }

    public double PromptTokenCost { get; }

    public double OutputTokenCost { get; }

    /// <summary>The tenant's counter (0 for an unknown tenant).</summary>
    public double CounterOf(string tenant) => _tenants.TryGetValue(tenant, out TenantState? s) ? s.Counter : 0;

    /// <summary>Marks a tenant as having queued or running work; lifts its counter to the active minimum if it was idle.</summary>
    public void Activate(string tenant)
    {
        TenantState state = Get(tenant);
        if (state.ActiveRequests++ == 0)
        {
            double min = double.MaxValue;
            foreach (TenantState other in _tenants.Values)
            {
                if (other.ActiveRequests > 0 && !ReferenceEquals(other, state))
                {
                    min = Math.Min(min, other.Counter);
                }
            }

            if (min != double.MaxValue)
            {
                state.Counter = Math.Max(state.Counter, min);
            }
        }
    }

    /// <summary>One of the tenant's requests finished or left the system.</summary>
    public void Deactivate(string tenant)
    {
        TenantState state = Get(tenant);
        if (state.ActiveRequests > 0)
        {
            state.ActiveRequests--;
        }
    }

    /// <summary>Charges a tenant for tokens served in a step.</summary>
    public void Charge(string tenant, int promptTokens, int outputTokens)
    {
        TenantState state = Get(tenant);
        state.Counter += ((promptTokens * PromptTokenCost) + (outputTokens * OutputTokenCost)) / state.Weight;
    }

    private TenantState Get(string tenant)
    {
        if (!_tenants.TryGetValue(tenant, out TenantState? state))
        {
            double weight = _weightOf(tenant);
            if (!(weight > 0) || double.IsInfinity(weight))
            {
                throw new ArgumentOutOfRangeException(nameof(tenant), weight, $"Tenant '{tenant}' has weight {weight}; weights must be finite and > 0.");
            }

            state = new TenantState(weight);
            _tenants[tenant] = state;
        }

        return state;
    }

    private sealed class TenantState(double weight)
    {
        public double Weight { get; } = weight;

        public double Counter { get; set; }

        public int ActiveRequests { get; set; }
    }
}
