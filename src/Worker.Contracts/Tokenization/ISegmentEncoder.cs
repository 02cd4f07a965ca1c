namespace Inference.Worker.Tokenization;

/// <summary>Encodes a run of ordinary text (no added or special tokens in it) into model token ids.</summary>
internal interface ISegmentEncoder
{
    void EncodeSegment(string text, List<int> output);
}
