"""The official OpenAI Python client against an agora node, unchanged: one completion and one
stream, and a completion from the second model it lists. Prints one JSON object with what it
received."""
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
print(json.dumps({
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
