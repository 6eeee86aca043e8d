#!/usr/bin/env python3
"""What one model write costs inside a LiteLLM proxy with a database, measured in LiteLLM's code.

Run with the virtualenv's python (`target/litellm-venv/bin/python`); `target/release/bench
--litellm-cost` runs it and parses the one JSON object it prints on stdout.

Why: in DB mode every `POST /model/new` (and every update and delete) ends in
`ProxyConfig.add_deployment`, which takes the global `MODEL_RECONCILE_LOCK` and reconciles the
router against the WHOLE model table. With a router already in place, `add_deployment_locked`
-> `_update_llm_router` runs, per write:

    rows = await get_models_from_db(prisma_client)      # every row of LiteLLM_ProxyModelTable
    await _delete_deployment(db_models=rows)            # O(rows): ids, config re-read, evictions
    _add_deployment(db_models=rows)                     # O(rows): decrypts every string param of
                                                        # every row, validates LiteLLM_Params,
                                                        # router.upsert_deployment per row

That is what this script times: `_delete_deployment` + `_add_deployment` on a router that already
holds N deployments, handed N + 1 freshly read rows (the N plus the one just written), encrypted
by LiteLLM's own `add_model_to_db` (with `should_create_model_in_db=False`, which builds the row
it would insert) under the master key. `decrypt_model_list_from_db` is timed too, separately:
it decrypts every row as well, but runs only when there is no router yet (start-up, first model);
with a router, `_add_deployment` does the decrypting itself.

Also included: for the one new deployment, `upsert_deployment` registers its pricing in
`litellm.model_cost`; for an Ollama model the lookups behind it go through
`OllamaModelInfo._is_static_ollama_model`, which lower-cases every key of that map (~4,250
built-in entries plus two per deployment) on every call, and each registration invalidates the
lower-cased copy of the map that the next lookup rebuilds: so this part grows with the table too.

NOT included: the DB read itself (Prisma's `find_many` of N rows and turning them into Python
objects), the row insert, `prefetch_config_params`/`get_credentials`/general-settings reads,
`_init_non_llm_objects_in_db`, auth and HTTP handling. So this is a lower bound of a write's cost.

Output, one line: {"litellm": version, "seconds": run time without the import, "sizes": [{"n",
"write_ms": [one per repetition], "write_ms_median", "upserted_per_write": [deployments each
write (re-)added; 1 = only the new one], "router_size", "router_build_s": the start-up path's
router build from N rows, "decrypt_list_ms": `decrypt_model_list_from_db` of N rows}]}.
"""

import argparse
import asyncio
import copy
import gc
import importlib.metadata
import json
import logging
import os
import statistics
import sys
import time
import uuid

MASTER_KEY = "sk-bench-master"
os.environ["LITELLM_MASTER_KEY"] = MASTER_KEY
# Salt = master key (LiteLLM's fallback when LITELLM_SALT_KEY is unset); same cipher either way.
os.environ.pop("LITELLM_SALT_KEY", None)
# The cost map ships with the package; without this it is fetched from GitHub.
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
os.environ["LITELLM_TELEMETRY"] = "False"
os.environ.pop("LITELLM_CONFIG_BUCKET_NAME", None)

from litellm.proxy import proxy_server  # noqa: E402
from litellm.proxy._types import UserAPIKeyAuth  # noqa: E402
from litellm.proxy.management_endpoints.model_management_endpoints import add_model_to_db  # noqa: E402
from litellm.types.router import Deployment, LiteLLM_Params, ModelInfo  # noqa: E402

FAMILIES = ["llama", "qwen3", "mistral", "gemma3", "phi3"]
CONTEXTS = [4096, 8192, 32768, 131072, 262144]


def deployment(i: int) -> Deployment:
    """One deployment shaped like litellm-sync's pushes (as `render-config` writes them): Ollama
    chat models and OpenAI-compatible ones with a key, owner and provenance tags, zero or real
    pricing, and the model_info we derive."""
    family = FAMILIES[i % len(FAMILIES)]
    context = CONTEXTS[(i // 25) % len(CONTEXTS)]
    ollama = i % 2 == 0
    provider, kind = ("lab-ollama", "ollama") if ollama else ("lab-vllm", "openai")
    model_id = f"synth-{family}-{i:05}:7b" if ollama else f"org/synth-{family}-{i:05}-instruct"
    tools = i % 3 != 0
    params = {
        "model": f"ollama_chat/{model_id}" if ollama else f"openai/{model_id}",
        "api_base": "http://127.0.0.1:11434" if ollama else "http://127.0.0.1:8000/v1",
        "tags": [
            "lupdater",
            f"provider:{provider}",
            f"type:{kind}",
            f"model:{model_id}",
            f"unique_id:{provider}/{model_id}",
            "mode:chat",
            "model_type:chat",
            "capability:completion",
            *(["capability:tools"] if tools else []),
        ],
        "input_cost_per_token": 0.0 if ollama else 1.5e-07,
        "output_cost_per_token": 0.0 if ollama else 6e-07,
    }
    info = {
        "id": f"lupdater-{uuid.UUID(int=i)}",
        "lupdater_params": sorted(params),
        "managed_by": "litellm-updater",
        "max_input_tokens": context,
        "max_tokens": context,
        "mode": "chat",
        "supports_audio_input": False,
        "supports_fill_in_middle": False,
        "supports_function_calling": tools,
        "supports_reasoning": False,
        "supports_tool_choice": tools,
        "supports_vision": i % 10 == 7,
    }
    if not ollama:
        params["api_key"] = "sk-upstream-vllm-0123456789abcdef"
        info["lupdater_api_key_sha256"] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    return Deployment(model_name=model_id, litellm_params=LiteLLM_Params(**params), model_info=ModelInfo(**info))


async def db_rows(count: int) -> list:
    """The rows LiteLLM would hold, built and encrypted by its own `add_model_to_db`."""
    admin = UserAPIKeyAuth(user_id="default_user_id")
    return [
        await add_model_to_db(
            model_params=deployment(i), user_api_key_dict=admin, prisma_client=None, should_create_model_in_db=False
        )
        for i in range(count)
    ]


def fresh(rows: list) -> list:
    """What a new `find_many` returns: new objects (the reconcile decrypts them in place)."""
    return [copy.deepcopy(row) for row in rows]


async def measure(n: int, repetitions: int) -> dict:
    config = proxy_server.proxy_config
    rows = await db_rows(n + repetitions)
    # Start-up: no router yet, so `_update_llm_router` builds one from the decrypted rows.
    proxy_server.llm_router = None
    build_started = time.perf_counter()
    await config._update_llm_router(new_models=fresh(rows[:n]), proxy_logging_obj=proxy_server.proxy_logging_obj)
    router_build_s = time.perf_counter() - build_started
    router = proxy_server.llm_router
    if router is None or len(router.get_model_ids()) != n:
        raise SystemExit(f"router holds {0 if router is None else len(router.get_model_ids())}, not {n}")
    # One unchanged reconcile first, so the router is in its steady state.
    warm = fresh(rows[:n])
    await config._delete_deployment(db_models=warm)
    config._add_deployment(db_models=warm)

    writes, upserted = [], []
    for k in range(repetitions):
        read = fresh(rows[: n + k + 1])  # the table after the (k+1)-th new write
        gc.collect()  # each run starts alike; a collection the reconcile triggers still counts
        started = time.perf_counter()
        await config._delete_deployment(db_models=read)
        upserted.append(config._add_deployment(db_models=read))
        writes.append((time.perf_counter() - started) * 1000)

    again = fresh(rows[:n])
    started = time.perf_counter()
    config.decrypt_model_list_from_db(new_models=again)
    decrypt_ms = (time.perf_counter() - started) * 1000
    return {
        "n": n,
        "write_ms": [round(ms, 2) for ms in writes],
        "write_ms_median": round(statistics.median(writes), 2),
        "decrypt_list_ms": round(decrypt_ms, 2),
        "upserted_per_write": upserted,
        "router_size": len(proxy_server.llm_router.get_model_ids()),
        "router_build_s": round(router_build_s, 2),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,5000", help="comma-separated table sizes N")
    parser.add_argument("--repetitions", type=int, default=5)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    proxy_server.master_key = MASTER_KEY
    proxy_server.prisma_client = None  # no DB calls: only the in-memory work is timed
    proxy_server.user_config_file_path = None  # `get_config` then sees an empty model_list
    started = time.perf_counter()
    sizes = [await measure(int(n), args.repetitions) for n in args.sizes.split(",")]
    seconds = round(time.perf_counter() - started, 1)
    print(json.dumps({"litellm": importlib.metadata.version("litellm"), "sizes": sizes, "seconds": seconds}))


if __name__ == "__main__":
    asyncio.run(main())
