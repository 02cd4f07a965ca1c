namespace Inference.Worker.Tokenization;

/// <summary>The chat template families rendered natively (there is no Jinja engine).</summary>
internal enum ChatTemplateFamily
{
    Llama2,
    Llama3,

    /// <summary>Llama 3.1/3.2: Llama 3 plus a system turn that always opens with the knowledge-cutoff and date lines.</summary>
    Llama31,
    ChatMl,

    /// <summary>Explicit name "mistral" without template text: a leading system message is prepended to the first user turn.</summary>
    Mistral,

    /// <summary>Mistral-7B-Instruct-v0.1's original template: "[INST] u [/INST]a&lt;/s&gt; [INST] ..."; a system message raises.</summary>
    MistralV01,

    /// <summary>Mistral-7B-Instruct-v0.2 / Mixtral-8x7B-Instruct-v0.1: "[INST] u [/INST]a&lt;/s&gt;[INST] ..."; a system message raises.</summary>
    MistralV02,

    /// <summary>mistralai's later "v1" template: " [INST] system\n\nu [/INST] a&lt;/s&gt; [INST] ...".</summary>
    MistralV1,

    /// <summary>Zephyr / TinyLlama-Chat: "&lt;|role|&gt;\ncontent&lt;/s&gt;\n" per message, "&lt;|assistant|&gt;\n" to prompt.</summary>
    Zephyr,
}
