"""The Python peer of `fathom serve` for scripts/bench-vs-python.sh.

What a user would build for the same job with the usual tools: FastAPI and uvicorn,
sentence-transformers with the same all-MiniLM-L6-v2 weights, rank_bm25 and numpy cosine
similarity fused by reciprocal rank fusion (k = 60, 40 candidates a side, as Fathom's default).
It speaks the subset of Fathom's chat API the load generator uses, so one client drives both:

  POST /v1/conversations            {"workspace": ...} -> 201 {"conversation_id", "customer_token"}
  POST /v1/conversations/{id}/messages  {"text": ...}  -> 200 {"reply", "citations"}

The customer token is an HMAC of the conversation id, so any worker process can check it;
transcripts live in each worker's memory (the peer stores nothing on disk; Fathom writes every
turn to SQLite).

  python baseline.py serve  --chunks chunks.jsonl --model DIR --port 8090 [--workers 2]
  python baseline.py encode --chunks chunks.jsonl --model DIR [--batch-size 32]
"""

import argparse
import hashlib
import hmac
import json
import os
import re
import secrets
import sys
import time
import uuid

TOKEN = re.compile(r"\w+")


def tokenize(text):
    return TOKEN.findall(text.lower())


def load_chunks(path):
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def load_model(path):
    """all-MiniLM-L6-v2 as sentence-transformers ships it: mean pooling, 256 word-pieces."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(path, device="cpu")
    model.max_seq_length = 256
    return model


def encode(args):

    chunks = load_chunks(args.chunks)
    texts = [chunk["text"] for chunk in chunks]
    model = load_model(args.model)
    model.encode(texts[: args.batch_size], batch_size=args.batch_size)  # warm-up
    started = time.perf_counter()
    model.encode(texts, batch_size=args.batch_size, normalize_embeddings=True)
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "chunks": len(texts),
                "seconds": round(seconds, 3),
                "chunks_per_s": round(len(texts) / seconds, 2),
                "torch_threads": __import__("torch").get_num_threads(),
            }
        )
    )


def create_app():
    """Builds the app from FATHOM_PEER_CHUNKS and FATHOM_PEER_MODEL (uvicorn's factory mode,
    so every worker process loads its own model and index, as they would in production)."""
    import numpy as np
    from fastapi import FastAPI, Header, HTTPException
    from pydantic import BaseModel
    from rank_bm25 import BM25Okapi

    chunks = load_chunks(os.environ["FATHOM_PEER_CHUNKS"])
    model = load_model(os.environ["FATHOM_PEER_MODEL"])
    texts = [chunk["text"] for chunk in chunks]
    matrix = model.encode(texts, batch_size=32, normalize_embeddings=True).astype(np.float32)
    bm25 = BM25Okapi([tokenize(text) for text in texts])
    secret = os.environ["FATHOM_PEER_SECRET"].encode()
    transcripts = {}

    def token_for(conversation_id):
        digest = hmac.new(secret, conversation_id.encode(), hashlib.sha256).hexdigest()
        return "fct_" + digest

    app = FastAPI()

    class NewConversation(BaseModel):
        workspace: str

    class Message(BaseModel):
        text: str

    @app.post("/v1/conversations", status_code=201)
    def create_conversation(request: NewConversation):
        conversation_id = str(uuid.uuid4())
        token = token_for(conversation_id)
        return {"conversation_id": conversation_id, "customer_token": token, "state": "bot"}

    @app.post("/v1/conversations/{conversation_id}/messages")
    def post_message(conversation_id: str, message: Message, authorization: str = Header("")):
        expected = "Bearer " + token_for(conversation_id)
        if not hmac.compare_digest(authorization, expected):
            raise HTTPException(status_code=404, detail="conversation_not_found")
        query = model.encode([message.text], normalize_embeddings=True)[0]
        dense = matrix @ query
        lexical = bm25.get_scores(tokenize(message.text))
        fused = {}
        for scores in (dense, lexical):
            for rank, index in enumerate(np.argsort(-scores)[:40]):
                fused[int(index)] = fused.get(int(index), 0.0) + 1.0 / (60 + rank + 1)
        best = sorted(fused, key=fused.get, reverse=True)[:5]
        reply = chunks[best[0]]["text"][:600] if best else ""
        transcripts.setdefault(conversation_id, []).append((message.text, reply))
        return {
            "decision": "answer",
            "reply": reply,
            "citations": [chunks[index]["article_id"] for index in best],
        }

    return app


def serve(args):
    import uvicorn

    os.environ["FATHOM_PEER_CHUNKS"] = os.path.abspath(args.chunks)
    os.environ["FATHOM_PEER_MODEL"] = os.path.abspath(args.model)
    os.environ["FATHOM_PEER_SECRET"] = secrets.token_hex(32)
    uvicorn.run(
        "baseline:create_app",
        factory=True,
        host="127.0.0.1",
        port=args.port,
        workers=args.workers,
        log_level="warning",
        access_log=False,
        app_dir=os.path.dirname(os.path.abspath(__file__)),
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("serve", "encode"):
        command = commands.add_parser(name)
        command.add_argument("--chunks", required=True)
        command.add_argument("--model", required=True)
    commands.choices["serve"].add_argument("--port", type=int, default=8090)
    commands.choices["serve"].add_argument("--workers", type=int, default=1)
    commands.choices["encode"].add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    {"serve": serve, "encode": encode}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
