"""The official A2A Python SDK (a2a-sdk) against an agora node, unchanged: it resolves the node's
agent card, picks the HTTP+JSON interface the card names (the paid listener) and pays there with
the official x402 Python client, plugged in as the SDK's HTTP client (ClientConfig.httpx_client).

It sends a message and waits for the answer, sends one that returns at once and follows the task
to completion with get_task, cancels a long one, streams another, and tries to cancel a finished
task and to read an unknown one. Prints one
JSON object with what it received.

    PYTHONPATH=.tools/pylib python3 a2a_client.py CARD_BASE_URL PRIVATE_KEY ASSET
"""
import asyncio
import json
import sys
import time
import uuid

from eth_account import Account
from google.protobuf.json_format import MessageToDict

from a2a.client import ClientConfig, ClientFactory
from a2a.types.a2a_pb2 import GetTaskRequest, CancelTaskRequest, Message, Part, Role, SendMessageRequest, TaskState
from x402 import SchemeRegistration, x402ClientConfig
from x402.http.clients import wrapHttpxWithPaymentFromConfig
from x402.mechanisms.evm.exact import ExactEvmScheme

NETWORK = "eip155:31337"
QUESTION = "Say hello in one word."
TERMINAL = {TaskState.TASK_STATE_COMPLETED, TaskState.TASK_STATE_FAILED, TaskState.TASK_STATE_CANCELED}


def request(text, max_tokens=8):
    message = Message(message_id=str(uuid.uuid4()), role=Role.ROLE_USER, parts=[Part(text=text)])
    req = SendMessageRequest(message=message)
    # agora's sampling settings for this message: short and greedy.
    req.metadata.update({"maxTokens": max_tokens, "temperature": 0})
    return req


def artifact_text(task):
    return "".join(part.text for artifact in task.artifacts for part in artifact.parts)


async def main(card_base, key, asset):
    payer = x402ClientConfig(
        schemes=[SchemeRegistration(network=NETWORK, client=ExactEvmScheme(Account.from_key(key)))],
        # The client pays only assets it knows unless told otherwise: allow the devnet dollar.
        spend_controls={
            "allowed_assets": [{"network": NETWORK, "asset": asset, "max_amount_per_payment": "100000"}]
        },
    )
    http = wrapHttpxWithPaymentFromConfig(payer, timeout=60)
    out = {}

    # Blocking send: the answer comes back as a completed task.
    factory = ClientFactory(ClientConfig(httpx_client=http, streaming=False, supported_protocol_bindings=["HTTP+JSON"]))
    client = await factory.create_from_url(card_base)
    events = [event async for event in client.send_message(request(QUESTION))]
    task = events[-1].task
    out["send"] = {
        "events": len(events),
        "state": TaskState.Name(task.status.state),
        "text": artifact_text(task),
        "task_id": task.id,
        "context_id": task.context_id,
        "metadata": MessageToDict(task.metadata),
    }
    # The finished task, read back.
    again = await client.get_task(GetTaskRequest(id=task.id))
    out["get"] = {"state": TaskState.Name(again.status.state), "text": artifact_text(again)}
    # A finished task cannot be canceled.
    try:
        await client.cancel_task(CancelTaskRequest(id=task.id))
        out["cancel_finished"] = "canceled"
    except Exception as e:  # noqa: BLE001 - the error's type is what is checked
        out["cancel_finished"] = type(e).__name__
    try:
        await client.get_task(GetTaskRequest(id=str(uuid.uuid4())))
        out["get_unknown"] = "found"
    except Exception as e:  # noqa: BLE001
        out["get_unknown"] = type(e).__name__

    # Returns at once (polling): the task is followed to completion with get_task.
    polling = await ClientFactory(
        ClientConfig(httpx_client=http, streaming=False, polling=True, supported_protocol_bindings=["HTTP+JSON"])
    ).create_from_url(card_base)
    events = [event async for event in polling.send_message(request(QUESTION))]
    task = events[-1].task
    states = [TaskState.Name(task.status.state)]
    deadline = time.monotonic() + 20
    while task.status.state not in TERMINAL and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        task = await polling.get_task(GetTaskRequest(id=task.id))
        if TaskState.Name(task.status.state) != states[-1]:
            states.append(TaskState.Name(task.status.state))
    out["poll"] = {"states": states, "text": artifact_text(task), "metadata": MessageToDict(task.metadata)}

    # A long answer, canceled while the model writes it.
    events = [event async for event in polling.send_message(request("Count from 1 to 500, separated by commas.", 400))]
    canceled = await polling.cancel_task(CancelTaskRequest(id=events[-1].task.id))
    out["cancel"] = {
        "state": TaskState.Name(canceled.status.state),
        "why": "".join(p.text for p in canceled.status.message.parts),
    }

    # Streaming: the task, then status and artifact updates as the model writes.
    streaming = await ClientFactory(
        ClientConfig(httpx_client=http, streaming=True, supported_protocol_bindings=["HTTP+JSON"])
    ).create_from_url(card_base)
    kinds, pieces, states, last_chunk = [], [], [], None
    async for event in streaming.send_message(request(QUESTION)):
        kind = event.WhichOneof("payload")
        kinds.append(kind)
        if kind == "task":
            states.append(TaskState.Name(event.task.status.state))
        elif kind == "status_update":
            states.append(TaskState.Name(event.status_update.status.state))
        elif kind == "artifact_update":
            pieces.append("".join(p.text for p in event.artifact_update.artifact.parts))
            last_chunk = event.artifact_update.last_chunk
    out["stream"] = {"kinds": kinds, "states": states, "text": "".join(pieces), "last_chunk": last_chunk}

    await http.aclose()
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
