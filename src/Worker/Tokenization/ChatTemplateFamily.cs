namespace Inference.Worker.Tokenization;

/// <summary>The chat template families rendered natively (there is no Jinja engine).</summary>
internal enum ChatTemplateFamily
{
    Llama2,
    Llama3,
    ChatMl,
    Mistral,
}
