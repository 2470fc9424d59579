"""Chat template for DeepSeek-R1-style backbones that keeps assistant turns whole (docs/formats.md).

The stock DeepSeek-R1-Distill template drops everything up to ``</think>`` from assistant turns,
which would erase the critique during SFT. This one renders assistant content verbatim, and its
generation prompt ends with ``<｜Assistant｜><think>\\n``. The tiny local backbone ships it too.
"""

from __future__ import annotations

BOS = "<｜begin▁of▁sentence｜>"
EOS = "<｜end▁of▁sentence｜>"
USER = "<｜User｜>"
ASSISTANT = "<｜Assistant｜>"
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
PAD = "<｜▁pad▁｜>"

#: Special tokens a backbone using this template must know.
SPECIAL_TOKENS = (BOS, EOS, USER, ASSISTANT, PAD)

KEEP_REASONING_TEMPLATE = (
    "{{ bos_token }}"
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'system' -%}{{ message['content'] }}"
    "{%- elif message['role'] == 'user' -%}" + USER + "{{ message['content'] }}"
    "{%- elif message['role'] == 'assistant' -%}" + ASSISTANT + "{% generation %}{{ message['content'] }}"
    "{{ eos_token }}{% endgeneration %}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '" + ASSISTANT + THINK_OPEN + "\\n' }}{%- endif -%}"
)


def is_deepseek_r1(model_name_or_path: str, chat_template: str | None) -> bool:
    """True for DeepSeek-R1-Distill backbones (by name, or by their reasoning-dropping template)."""
    name = str(model_name_or_path).lower()
    return "deepseek-r1" in name or bool(
        chat_template and ASSISTANT in chat_template and "</think>" in chat_template
    )


def turns_thinking_off(model_id: str) -> bool:
    """Whether scoring passes ``enable_thinking=False`` to the chat template (Qwen3 templates read it).

    As the published rewards were made: only when the ``--model_id`` contains ``qwen3`` (any case). The
    published ``-qwen`` adapters (``dongboklee/gORM-qwen``, ``dongboklee/gPRM-qwen``) and checkpoint
    directories do not, so their prompts keep the template's default. Teacher generation and SFT never
    pass it.
    """
    return "qwen3" in str(model_id).lower()
