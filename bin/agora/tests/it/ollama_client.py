"""The official Ollama Python client against an agora node, unchanged: the model list, one chat
and one streamed chat, one generate and one streamed generate, and a raw generate. Prints one JSON object with what
it received."""
import json
import sys

from ollama import Client

client = Client(host=sys.argv[1])
models = [m.model for m in client.list().models]
question = [{"role": "user", "content": "Explain in one sentence what an ERC-20 approval is."}]
options = {"temperature": 0, "num_predict": 48, "repeat_penalty": 1.0}
chat = client.chat(model=models[0] + ":latest", messages=question, options=options)
pieces, last = [], None
for part in client.chat(model=models[0], messages=question, options=options, stream=True):
    pieces.append(part.message.content)
    last = part
generated = client.generate(model=models[0], prompt=question[0]["content"], options=options)
streamed = "".join(
    p.response for p in client.generate(model=models[0], prompt=question[0]["content"], options=options, stream=True)
)
raw = client.generate(
    model=models[0], prompt="The capital of France is", raw=True,
    options={"temperature": 0, "num_predict": 8, "repeat_penalty": 1.0},
)
try:
    client.chat(model="no-such-model", messages=question)
    missing = None
except Exception as e:  # ollama.ResponseError
    missing = {"status": getattr(e, "status_code", None), "error": str(e)}
print(json.dumps({
    "models": models,
    "chat": chat.message.content,
    "chat_done_reason": chat.done_reason,
    "chat_prompt_eval_count": chat.prompt_eval_count,
    "chat_eval_count": chat.eval_count,
    "stream": "".join(pieces),
    "stream_done": last.done,
    "stream_eval_count": last.eval_count,
    "generate": generated.response,
    "generate_stream": streamed,
    "missing": missing,
    "raw": raw.response,
}))
