"""The official A2A Python SDK (a2a-sdk) reads a job as a task: it resolves the provider node's
agent card, picks the HTTP+JSON interface the card names (the paid listener) and gets task
`job-<id>`. Prints one JSON object: the state, the status text, the artifact's text and the
job's metadata.

    PYTHONPATH=.tools/pylib python3 a2a_job.py CARD_BASE_URL TASK_ID
"""
import asyncio
import json
import sys

import httpx
from google.protobuf.json_format import MessageToDict

from a2a.client import ClientConfig, ClientFactory
from a2a.types.a2a_pb2 import GetTaskRequest, TaskState


async def main(card_base, task_id):
    async with httpx.AsyncClient(timeout=30) as http:
        factory = ClientFactory(ClientConfig(httpx_client=http, streaming=False, supported_protocol_bindings=["HTTP+JSON"]))
        client = await factory.create_from_url(card_base)
        task = await client.get_task(GetTaskRequest(id=task_id))
        print(json.dumps({
            "id": task.id,
            "state": TaskState.Name(task.status.state),
            "status": "".join(p.text for p in task.status.message.parts),
            "text": "".join(p.text for a in task.artifacts for p in a.parts),
            "metadata": MessageToDict(task.metadata),
        }))


asyncio.run(main(sys.argv[1], sys.argv[2]))
