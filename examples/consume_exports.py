"""A training-side consumer of Quorum exports.

Waits for the announcement of a ready export on the Redis stream (as a member
of a consumer group, so several training workers share the work), or pulls the
latest ready export of a format; downloads it with resume (HTTP Range),
verifies its sha256 and loads it with Hugging Face ``datasets``.

    export QUORUM_URL=http://127.0.0.1:8000 QUORUM_EXPORT_TOKEN=qex_...
    python examples/consume_exports.py latest --project 1 --format sft
    python examples/consume_exports.py wait --redis redis://127.0.0.1:56379/0 --format sft

Needs only the standard library, ``redis`` (for ``wait``) and ``datasets``;
talks to nothing but the Quorum server and its Redis.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import socket
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

CHUNK = 1 << 20


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _request(url: str, token: str, headers: dict | None = None) -> urllib.request.Request:
    return urllib.request.Request(
        url, headers={"Authorization": f"Token {token}", **(headers or {})}
    )


def latest_export(base: str, token: str, project: int, fmt: str) -> tuple[str, str, str]:
    """Resolve ``exports/latest/`` to the newest ready export: (download path, id, sha256).

    The download path names one immutable export, so a resumed download can
    never mix it with a newer one.
    """
    opener = urllib.request.build_opener(_NoRedirect)
    url = f"{base}/api/v1/projects/{project}/exports/latest/?format={fmt}"
    try:
        opener.open(_request(url, token))
    except urllib.error.HTTPError as exc:
        if exc.code in (301, 302, 303, 307, 308):
            headers = exc.headers
            return headers["Location"], headers["X-Export-Id"], headers["X-Export-Sha256"]
        raise SystemExit(f"{url}: {exc.code} {exc.read().decode(errors='replace')}") from exc
    raise SystemExit(f"{url}: expected a redirect to the download")


def _open(url: str, token: str, headers: dict):
    """The download's response, following a redirect to object storage by hand.

    A server with presigned downloads answers 302 to a signed URL that must be
    fetched without our token (storage refuses two kinds of credentials); its
    sha256 is then the one our server named, not the storage's own ETag.
    """
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        response = opener.open(_request(url, token, headers), timeout=60)
        return response, response.headers["ETag"].strip('"')
    except urllib.error.HTTPError as exc:
        if exc.code not in (301, 302, 303, 307, 308):
            raise
        sha256 = exc.headers["X-Export-Sha256"]
        signed = urllib.request.Request(exc.headers["Location"], headers=headers)
        return urllib.request.urlopen(signed, timeout=60), sha256


def download(base: str, token: str, path: str, target: Path, *, attempts: int = 5) -> str:
    """Download to ``target`` resuming a partial file; return the server's sha256 (ETag)."""
    url = path if path.startswith("http") else f"{base}{path}"
    for attempt in range(1, attempts + 1):
        have = target.stat().st_size if target.exists() else 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        try:
            response, etag = _open(url, token, headers)
            with response:
                mode = "ab" if response.status == 206 else "wb"
                with open(target, mode) as out:
                    while chunk := response.read(CHUNK):
                        out.write(chunk)
                return etag
        except urllib.error.HTTPError as exc:
            if exc.code == 416:  # already complete (or a stale partial file): start over
                target.unlink(missing_ok=True)
                continue
            raise
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            print(f"attempt {attempt}: {exc}; resuming", file=sys.stderr)
            time.sleep(min(2**attempt, 30))
    raise SystemExit(f"could not download {url}")


def verify(target: Path, sha256: str) -> bool:
    """Whether the file has the sha256; a file that has not is removed."""
    digest = hashlib.sha256()
    with open(target, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    if digest.hexdigest() == sha256:
        return True
    target.unlink()
    return False


def load(target: Path):
    from datasets import load_dataset

    return load_dataset("json", data_files=str(target), split="train")


def fetch(base: str, token: str, path: str, sha256: str | None, out_dir: Path, name: str):
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / name
    # A corrupt partial file fails the check and is removed; one fresh download follows.
    for _ in range(2):
        etag = download(base, token, path, target)
        if verify(target, sha256 or etag):
            break
        print(f"sha256 mismatch for {target}: downloading it again", file=sys.stderr)
    else:
        raise SystemExit(f"sha256 mismatch for {target} twice: the file was removed")
    dataset = load(target)
    print(f"{target}: {len(dataset)} rows, columns {dataset.column_names}")
    return dataset


def wait(args) -> None:
    import redis

    client = redis.Redis.from_url(args.redis, decode_responses=True)
    try:
        client.xgroup_create(args.stream, args.group, id="$", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise
    consumer = args.consumer or socket.gethostname()
    print(f"waiting on {args.stream} as {args.group}/{consumer}", file=sys.stderr)
    while True:
        # Our own unacknowledged entries first (a crash before XACK), then new ones.
        for start in ("0", ">"):
            entries = client.xreadgroup(
                args.group, consumer, {args.stream: start}, count=1, block=5000
            )
            for _, messages in entries or []:
                for message_id, manifest in messages:
                    if args.format and manifest.get("format") != args.format:
                        client.xack(args.stream, args.group, message_id)
                        continue
                    if args.project and manifest.get("project_id") != str(args.project):
                        client.xack(args.stream, args.group, message_id)
                        continue
                    fetch(
                        args.url, args.token, manifest["download"], manifest["sha256"],
                        Path(args.out), f"export-{manifest['export_id']}.jsonl",
                    )  # fmt: skip
                    client.xack(args.stream, args.group, message_id)
                    print(json.dumps(manifest))
                    if args.once:
                        return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["latest", "wait"])
    parser.add_argument("--url", default=os.environ.get("QUORUM_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--token", default=os.environ.get("QUORUM_EXPORT_TOKEN", ""))
    parser.add_argument("--project", type=int)
    parser.add_argument("--format", default="sft")
    parser.add_argument("--out", default="exports")
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--stream", default=os.environ.get("EXPORT_STREAM", "quorum:exports"))
    parser.add_argument("--group", default="trainers")
    parser.add_argument("--consumer")
    parser.add_argument("--once", action="store_true", help="stop after one export")
    args = parser.parse_args()
    if not args.token:
        raise SystemExit("set QUORUM_EXPORT_TOKEN or pass --token")
    args.url = args.url.rstrip("/")
    if args.mode == "latest":
        if not args.project:
            raise SystemExit("--project is required for latest")
        path, export_id, sha256 = latest_export(args.url, args.token, args.project, args.format)
        name = f"{args.format}-{export_id}.jsonl"
        fetch(args.url, args.token, path, sha256, Path(args.out), name)
    else:
        wait(args)


if __name__ == "__main__":
    main()
