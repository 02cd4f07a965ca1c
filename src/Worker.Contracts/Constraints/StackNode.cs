namespace Inference.Worker.Constraints;

/// <summary>
/// One frame of a matcher stack, immutable and shared between stacks: the top frame is the position of the
/// character class to match next, lower frames are where to continue when a rule ends. Equality is structural
/// (with a precomputed hash) so that states reached along different paths compare equal.
/// </summary>
internal sealed class StackNode : IEquatable<StackNode>
{
    public StackNode(int position, StackNode? next)
    {
        Position = position;
        Next = next;
        Depth = next is null ? 1 : next.Depth + 1;
        Hash = HashCode.Combine(position, next?.Hash ?? 17);
    }

    public int Position { get; }

    public StackNode? Next { get; }

    public int Depth { get; }

    public int Hash { get; }

    public bool Equals(StackNode? other)
    {
        StackNode? a = this;
        StackNode? b = other;
        while (a is not null && b is not null)
        {
            if (ReferenceEquals(a, b))
            {
                return true;
            }

            if (a.Hash != b.Hash || a.Position != b.Position || a.Depth != b.Depth)
            {
                return false;
            }

            a = a.Next;
            b = b.Next;
        }

        return a is null && b is null;
    }

    public override bool Equals(object? obj) => obj is StackNode other && Equals(other);

    public override int GetHashCode() => Hash;
}
