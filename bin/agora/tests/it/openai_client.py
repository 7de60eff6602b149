"""The official OpenAI Python client against an agora node, unchanged: one chat completion and
one stream, a completion from the second model it lists, and a legacy completion of a raw prompt
plain and streamed. Prints one JSON object with what it received."""
import json
import sys

from openai import OpenAI

client = OpenAI(base_url=sys.argv[1] + "/v1", api_key="unused")
models = [m.id for m in client.models.list().data]
question = [{"role": "user", "content": "Explain in one sentence what an ERC-20 approval is."}]
completion = client.chat.completions.create(model=models[0], messages=question, temperature=0, max_tokens=48)
stream = client.chat.completions.create(
    model=models[0],
    messages=question,
    temperature=0,
    max_tokens=48,
    stream=True,
    stream_options={"include_usage": True},
)
pieces, finish, usage = [], None, None
for chunk in stream:
    if chunk.choices:
        pieces.append(chunk.choices[0].delta.content or "")
        finish = chunk.choices[0].finish_reason or finish
    if chunk.usage:
        usage = chunk.usage.completion_tokens
# A second model (the same weights under another name, added with `agora models add`), loaded
# by the node when a request first names it.
other = client.chat.completions.create(model=models[1], messages=question, temperature=0, max_tokens=48)
raw = "The capital of France is"
legacy = client.completions.create(model=models[0], prompt=raw, temperature=0, max_tokens=8)
legacy_stream = "".join(
    c.choices[0].text for c in client.completions.create(model=models[0], prompt=raw, temperature=0, max_tokens=8, stream=True)
    if c.choices
)
print(json.dumps({
    "legacy": legacy.choices[0].text,
    "legacy_object": legacy.object,
    "legacy_finish_reason": legacy.choices[0].finish_reason,
    "legacy_prompt_tokens": legacy.usage.prompt_tokens,
    "legacy_receipt": legacy.model_dump().get("agora_receipt"),
    "legacy_stream": legacy_stream,
    "models": models,
    "other_model": other.model,
    "other_completion": other.choices[0].message.content,
    "completion": completion.choices[0].message.content,
    "finish_reason": completion.choices[0].finish_reason,
    "prompt_tokens": completion.usage.prompt_tokens,
    "stream": "".join(pieces),
    "stream_finish_reason": finish,
    "stream_usage": usage,
}))
