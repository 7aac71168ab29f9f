#!/usr/bin/env python3
"""A stand-in for the Hugging Face hub, for the `moecoder pull` tests (the test machines have no internet).

Serves ROOT/<owner>/<repo>/<files> the way huggingface.co does:
  GET /api/models/<owner>/<repo>[/revision/<rev>][?blobs=true]  -> {"id", "sha", "siblings": [{rfilename, size,
      blobId, lfs: {size, sha256, pointerSize}}]} (lfs only for .gguf files, like an LFS repository)
  GET /<owner>/<repo>/resolve/<rev>/<path>                       -> the file, with Range support (206, 416)
Options make it misbehave the ways the client must survive: --drop-after N (send N body bytes, then cut the
connection; the first --drop-count downloads only), --ignore-range (always answer 200 with the whole file),
--wrong-sha (advertise a wrong sha256), --no-sha (advertise none), --redirect (resolve answers 302 to /cdn/...,
as the hub does for LFS files; --redirect-host HOST makes it an absolute URL on another host name, as the hub's
CDN is), --require-token T (401 without "Authorization: Bearer T", except on /cdn/: its URLs are the credential).
Every request is appended to --log as a JSON line {method, path, range, authorization}.
Prints the port it listens on (127.0.0.1, a free port) on the first line of stdout; exits when stdin closes, so a
test that dies cannot leave it running.
"""
import argparse
import hashlib
import json
import os
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def parse_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True)
    parser.add_argument("--log")
    parser.add_argument("--drop-after", type=int)
    parser.add_argument("--drop-count", type=int, default=1)
    parser.add_argument("--ignore-range", action="store_true")
    parser.add_argument("--wrong-sha", action="store_true")
    parser.add_argument("--no-sha", action="store_true")
    parser.add_argument("--redirect", action="store_true")
    parser.add_argument("--redirect-host")
    parser.add_argument("--require-token")
    return parser.parse_args()


ARGS = parse_args()
LOCK = threading.Lock()
DROPS = {"left": ARGS.drop_count}
HASHES = {}


def sha256_of(path):
    if path not in HASHES:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        HASHES[path] = digest.hexdigest()
    return HASHES[path]


def repo_files(folder):
    out = []
    for base, _, names in os.walk(folder):
        for name in names:
            full = os.path.join(base, name)
            out.append((os.path.relpath(full, folder).replace(os.sep, "/"), full))
    return sorted(out)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def record(self):
        if not ARGS.log:
            return
        entry = {"method": self.command, "path": self.path, "range": self.headers.get("Range"),
                 "authorization": self.headers.get("Authorization")}
        with LOCK, open(ARGS.log, "a") as f:
            f.write(json.dumps(entry) + "\n")

    def send_json(self, status, body, headers=None):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.record()
        path = urllib.parse.urlsplit(self.path).path
        parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/")]
        authorized = self.headers.get("Authorization") == "Bearer " + (ARGS.require_token or "")
        if ARGS.require_token and parts[0] != "cdn" and not authorized:
            return self.send_json(401, {"error": "Invalid credentials in Authorization header"})
        if len(parts) >= 4 and parts[:2] == ["api", "models"]:
            return self.model_info(parts[2], parts[3])
        if len(parts) >= 5 and parts[2] == "resolve":
            if ARGS.redirect or ARGS.redirect_host:
                target = "/cdn/" + "/".join(urllib.parse.quote(p) for p in parts[:2] + parts[4:])
                if ARGS.redirect_host:
                    target = f"http://{ARGS.redirect_host}:{self.server.server_address[1]}{target}"
                self.send_response(302)
                self.send_header("Location", target)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            return self.serve_file(parts[0], parts[1], parts[4:])
        if len(parts) >= 4 and parts[0] == "cdn":
            return self.serve_file(parts[1], parts[2], parts[3:])
        self.send_json(404, {"error": "Not found"})

    def repo_folder(self, owner, repo):
        folder = os.path.join(ARGS.root, owner, repo)
        if ".." in (owner, repo) or not os.path.isdir(folder):
            self.send_json(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
            return None
        return folder

    def model_info(self, owner, repo):
        folder = self.repo_folder(owner, repo)
        if folder is None:
            return
        siblings = []
        for name, full in repo_files(folder):
            size = os.path.getsize(full)
            sibling = {"rfilename": name, "size": size, "blobId": "0" * 40}
            if name.endswith(".gguf") and not ARGS.no_sha:
                sha = hashlib.sha256(b"wrong").hexdigest() if ARGS.wrong_sha else sha256_of(full)
                sibling["lfs"] = {"size": size, "sha256": sha, "pointerSize": 135}
            siblings.append(sibling)
        self.send_json(200, {"id": f"{owner}/{repo}", "modelId": f"{owner}/{repo}", "sha": COMMIT,
                             "siblings": siblings})

    def serve_file(self, owner, repo, rest):
        folder = self.repo_folder(owner, repo)
        if folder is None:
            return
        full = os.path.join(folder, *rest)
        if ".." in rest or not os.path.isfile(full):
            return self.send_json(404, {"error": "Entry not found"}, {"X-Error-Code": "EntryNotFound"})
        size = os.path.getsize(full)
        start = 0
        requested = self.headers.get("Range")
        if requested and not ARGS.ignore_range:
            spec = requested.strip()
            if spec.startswith("bytes=") and spec.endswith("-") and spec[6:-1].isdigit():
                start = int(spec[6:-1])
            if start >= size:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        length = size - start
        self.send_response(206 if start > 0 else 200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        if start > 0:
            self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        self.end_headers()
        with open(full, "rb") as f:
            f.seek(start)
            data = f.read()
        with LOCK:
            drop = ARGS.drop_after is not None and DROPS["left"] > 0 and len(data) > ARGS.drop_after
            if drop:
                DROPS["left"] -= 1
        if drop:
            self.wfile.write(data[:ARGS.drop_after])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.wfile.write(data)


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()  # until the test closes our stdin (or dies)
    os._exit(0)


if __name__ == "__main__":
    main()
