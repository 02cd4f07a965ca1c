namespace Inference.Scheduler.KvCache;

/// <summary>
/// A device-side block copy the engine must run before the step's forward pass: copy-on-write of a
/// block shared after <see cref="BlockManager.Fork"/>. Copies every layer's K and V for the block.
/// </summary>
/// <param name="Source">The shared block that holds the tokens written so far.</param>
/// <param name="Destination">The fresh block the writing sequence continues in.</param>
public readonly record struct BlockCopy(int Source, int Destination);
