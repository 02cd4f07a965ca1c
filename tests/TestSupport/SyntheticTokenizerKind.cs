namespace Inference.TestSupport;

/// <summary>Which real tokenizer format <see cref="SyntheticTokenizerWriter"/> produces.</summary>
public enum SyntheticTokenizerKind
{
    /// <summary>Llama 2 style: SentencePiece BPE tokenizer.model with byte fallback, Llama 2 chat template.</summary>
    SentencePiece,

    /// <summary>Llama 3 style: byte-level BPE tokenizer.json, Llama 3 chat template, two EOS ids.</summary>
    ByteLevelBpe,

    /// <summary>Qwen2 style: byte-level BPE tokenizer.json with ChatML special tokens and template.</summary>
    ChatMlBpe,
}
