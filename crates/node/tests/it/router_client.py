"""The official OpenAI Python client, unchanged, against a node that routes: `auto` plain and
streamed, a provider-qualified remote model, and the local model. Prints one JSON object."""
import json
import sys

from openai import OpenAI

client = OpenAI(base_url=sys.argv[1] + "/v1", api_key="unused")
named, local = sys.argv[2], sys.argv[3]
models = [m.id for m in client.models.list().data]
question = [{"role": "user", "content": "Name one colour of the rainbow."}]


def ask(model):
    c = client.chat.completions.create(model=model, messages=question, temperature=0, max_tokens=12)
    extra = c.model_dump()
    return {"text": c.choices[0].message.content, "model": c.model, "route": extra.get("agora_route")}


auto = ask("auto")
stream = client.chat.completions.create(
    model="auto", messages=question, temperature=0, max_tokens=12, stream=True,
    stream_options={"include_usage": True},
)
pieces, route, usage = [], None, None
for chunk in stream:
    if chunk.choices:
        pieces.append(chunk.choices[0].delta.content or "")
    route = chunk.model_dump().get("agora_route") or route
    if chunk.usage:
        usage = chunk.usage.completion_tokens
print(json.dumps({
    "models": models,
    "auto": auto,
    "stream": {"text": "".join(pieces), "route": route, "usage": usage},
    "named": ask(named),
    "local": ask(local),
}))
