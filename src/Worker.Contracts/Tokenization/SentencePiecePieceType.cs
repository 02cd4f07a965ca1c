namespace Inference.Worker.Tokenization;

/// <summary>ModelProto.SentencePiece.Type from sentencepiece_model.proto (numbers are the wire values).</summary>
internal enum SentencePiecePieceType
{
    Normal = 1,
    Unknown = 2,
    Control = 3,
    UserDefined = 4,
    Unused = 5,
    Byte = 6,
}
