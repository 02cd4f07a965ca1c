using Inference.Scheduler.Fairness;

namespace Inference.Scheduler.Queues;

/// <summary>
/// Requests waiting for admission, ordered by (effective) class, then tenant fairness (smallest virtual
/// token counter first), then priority and arrival within a tenant. Preempted sequences wait in a lane at
/// the head of their class. Aging lifts a request one class per <c>agingInterval</c> waited, so no request
/// waits forever behind a stream of higher-class work.
/// </summary>
public sealed class WaitingQueue
{
    private static readonly int NumClasses = Enum.GetValues<PriorityClass>().Length;

    private readonly Dictionary<string, SortedSet<Sequence>>[] _byTenant;
    private readonly LinkedList<Sequence>[] _preempted;
    private readonly long _agingTicks;
    private readonly TimeProvider _time;

    public WaitingQueue(TimeProvider time, TimeSpan agingInterval)
    {
        ArgumentNullException.ThrowIfNull(time);
        _time = time;
        _agingTicks = agingInterval <= TimeSpan.Zero ? long.MaxValue : (long)(agingInterval.TotalSeconds * time.TimestampFrequency);
        _byTenant = new Dictionary<string, SortedSet<Sequence>>[NumClasses];
        _preempted = new LinkedList<Sequence>[NumClasses];
        for (int c = 0; c < NumClasses; c++)
        {
            _byTenant[c] = new Dictionary<string, SortedSet<Sequence>>(StringComparer.Ordinal);
            _preempted[c] = new LinkedList<Sequence>();
        }
    }

    public int Count { get; private set; }

    /// <summary>Tokens (prompt plus already generated) of everything waiting.</summary>
    public long Tokens { get; private set; }

    /// <summary>Waiting sequences per effective class (index = (int)PriorityClass).</summary>
    public int CountOf(PriorityClass priorityClass)
    {
        int c = (int)priorityClass;
        int n = _preempted[c].Count;
        foreach (SortedSet<Sequence> set in _byTenant[c].Values)
        {
            n += set.Count;
        }

        return n;
    }

    public void Enqueue(Sequence sequence)
    {
        ArgumentNullException.ThrowIfNull(sequence);
        Dictionary<string, SortedSet<Sequence>> tenants = _byTenant[(int)sequence.EffectiveClass];
        if (!tenants.TryGetValue(sequence.Request.Tenant, out SortedSet<Sequence>? set))
        {
            set = new SortedSet<Sequence>(WithinTenantOrder.Instance);
            tenants[sequence.Request.Tenant] = set;
        }

        set.Add(sequence);
        Count++;
        Tokens += sequence.Tokens.Count;
    }

    /// <summary>Puts a preempted sequence at the head of its class (behind earlier preempted ones of higher priority).</summary>
    public void EnqueuePreempted(Sequence sequence)
    {
        ArgumentNullException.ThrowIfNull(sequence);
        LinkedList<Sequence> lane = _preempted[(int)sequence.EffectiveClass];

        // Keep the lane in (priority, arrival) order so repeated preemptions cannot reorder old work.
        LinkedListNode<Sequence>? node = lane.First;
        while (node is not null && WithinTenantOrder.Instance.Compare(node.Value, sequence) < 0)
        {
            node = node.Next;
        }

        if (node is null)
        {
            lane.AddLast(sequence);
        }
        else
        {
            lane.AddBefore(node, sequence);
        }

        Count++;
        Tokens += sequence.Tokens.Count;
    }

    /// <summary>The next sequence to admit, or null when empty. Does not remove it.</summary>
    public Sequence? Peek(VirtualTokenCounter fairness)
    {
        ArgumentNullException.ThrowIfNull(fairness);
        for (int c = 0; c < NumClasses; c++)
        {
            if (_preempted[c].First is { } first)
            {
                return first.Value;
            }

            SortedSet<Sequence>? best = null;
            double bestCounter = double.MaxValue;
            foreach (KeyValuePair<string, SortedSet<Sequence>> pair in _byTenant[c])
            {
                if (pair.Value.Count == 0)
                {
                    continue;
                }

                double counter = fairness.CounterOf(pair.Key);
                if (counter < bestCounter || (counter == bestCounter && best is not null && WithinTenantOrder.Instance.Compare(pair.Value.Min!, best.Min!) < 0))
                {
                    best = pair.Value;
                    bestCounter = counter;
                }
            }

            if (best is not null)
            {
                return best.Min;
            }
        }

        return null;
    }

    /// <summary>Removes a sequence (admitted or aborted); false if it was not waiting here.</summary>
    public bool Remove(Sequence sequence)
    {
        ArgumentNullException.ThrowIfNull(sequence);
        int c = (int)sequence.EffectiveClass;
        bool removed = _preempted[c].Remove(sequence)
            || (_byTenant[c].TryGetValue(sequence.Request.Tenant, out SortedSet<Sequence>? set) && set.Remove(sequence));
        if (removed)
        {
            Count--;
            Tokens -= sequence.Tokens.Count;
        }

        return removed;
    }

    /// <summary>
    /// Lifts sequences that have waited long enough by one class per aging interval. Scans everything, so
    /// callers run it at most a few times per interval, not every step.
    /// </summary>
    public int Age()
    {
        if (_agingTicks == long.MaxValue)
        {
            return 0;
        }

        long now = _time.GetTimestamp();
        int promoted = 0;
        List<Sequence>? moving = null;
        for (int c = 1; c < NumClasses; c++)
        {
            foreach (SortedSet<Sequence> set in _byTenant[c].Values)
            {
                foreach (Sequence s in set)
                {
                    if (Target(s, now) < c)
                    {
                        (moving ??= []).Add(s);
                    }
                }
            }

            foreach (Sequence s in _preempted[c])
            {
                if (Target(s, now) < c)
                {
                    (moving ??= []).Add(s);
                }
            }
        }

        if (moving is null)
        {
            return 0;
        }

        foreach (Sequence s in moving)
        {
            bool wasPreempted = s.Status == SequenceStatus.Preempted;
            Remove(s);
            s.EffectiveClass = (PriorityClass)Target(s, now);
            if (wasPreempted)
            {
                EnqueuePreempted(s);
            }
            else
            {
                Enqueue(s);
            }

            promoted++;
        }

        return promoted;
    }

    private int Target(Sequence s, long now)
    {
        long waited = now - s.ArrivalTimestamp;
        long steps = waited / _agingTicks;
        return (int)Math.Max(0, (int)s.Request.Class - Math.Min(steps, NumClasses));
    }

    private sealed class WithinTenantOrder : IComparer<Sequence>
    {
        public static readonly WithinTenantOrder Instance = new();

        public int Compare(Sequence? x, Sequence? y)
        {
            if (ReferenceEquals(x, y))
            {
                return 0;
            }

            int c = x!.Request.Priority.CompareTo(y!.Request.Priority);
            if (c != 0)
            {
                return c;
            }

            c = x.ArrivalTimestamp.CompareTo(y.ArrivalTimestamp);
            return c != 0 ? c : x.Id.CompareTo(y.Id);
        }
    }
}
