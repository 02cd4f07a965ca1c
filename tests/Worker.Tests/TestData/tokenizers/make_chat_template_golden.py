#!/usr/bin/python3
"""Renders real Hugging Face chat templates with jinja2 the way transformers does and writes goldens.

Run from this folder with Debian's python3-jinja2:
    /usr/bin/python3 make_chat_template_golden.py
transformers' apply_chat_template: ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True),
raise_exception as a global, messages/bos_token/eos_token/add_generation_prompt as render variables.
"""
import json
import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

COMMAND = "/usr/bin/python3 make_chat_template_golden.py  (python3-jinja2 " + jinja2.__version__ + ")"

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


class TemplateError(Exception):
    pass


def raise_exception(message):
    raise TemplateError(message)


env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
env.globals["raise_exception"] = raise_exception

out = []
for spec in TEMPLATES:
    compiled = env.from_string(spec["template"])
    cases = []
    for conv_name, messages in CONVERSATIONS.items():
        for agp in (True, False):
            kwargs = {"messages": messages, "add_generation_prompt": agp}
            if spec["bos_token"] is not None:
                kwargs["bos_token"] = spec["bos_token"]
            kwargs["eos_token"] = spec["eos_token"]
            case = {"conversation": conv_name, "add_generation_prompt": agp}
            try:
                case["rendered"] = compiled.render(**kwargs)
            except TemplateError as ex:
                case["error"] = str(ex)
            cases.append(case)
    out.append({**spec, "cases": cases})

with open("chat-templates/golden.json", "w", encoding="utf-8") as f:
    json.dump({"command": COMMAND,
               "reference": "jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True) with raise_exception, as transformers' apply_chat_template",
               "conversations": CONVERSATIONS, "templates": out}, f, ensure_ascii=False, indent=1)
print("ok")
