#!/usr/bin/env python3
"""A REST client for Centralino written only from the seed's description of its API
authentication (KalliopePBX manual §6.1.2; spec/seed-api-addons.md §2), not from our code.

    1. GET rest/salt/<tenant domain>, anonymously. (The seed does not say how the salt is
       encoded; this client takes a JSON object's "salt", else the body as text.)
    2. digestPassword = hex(sha256(password + "{" + salt + "}"))
    3. Nonce = random hex, at least 8 characters, new for every request;
       Created = now, UTC, "YYYY-MM-DDThh:mm:ssZ"
    4. Digest = base64(sha256_raw(Nonce + digestPassword + Username + Domain + Created))
    5. X-authenticate: RestApiUsernameToken Username="..", Domain="..", Digest="..",
       Nonce="..", Created=".."

Standard library only. Usage:

    seed_client.py --base http://127.0.0.1:8080 --user admin --password admin check
    seed_client.py --base https://127.0.0.1:8443 --insecure ... get /rest/extension
    seed_client.py ... put /rest/me/password '{"password": "new-password"}'
    seed_client.py ... hammer 12      (12 requests with a wrong password; prints the statuses)
    seed_client.py ... download get '/rest/cdr?format=xlsx' --out cdr.xlsx

`check` runs the acceptance scenario (salt, authenticated GETs, then a replayed header, an
old Created, a short nonce and a wrong password, which must all be refused) and prints one
JSON object; the exit code is 0 when every step went as the seed says.
"""

import argparse
import base64
import datetime
import hashlib
import http.client
import json
import secrets
import ssl
import sys
import urllib.parse


def digest_password(password, salt):
    return hashlib.sha256((password + "{" + salt + "}").encode("utf-8")).hexdigest()


def digest(nonce, digest_pw, username, domain, created):
    raw = hashlib.sha256((nonce + digest_pw + username + domain + created).encode("utf-8")).digest()
    return base64.b64encode(raw).decode("ascii")


def created_now(offset_seconds=0):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset_seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class Client:
    def __init__(self, base, username, password, domain="default", insecure=False, timeout=10):
        u = urllib.parse.urlsplit(base)
        self.scheme = u.scheme
        self.host = u.hostname
        self.port = u.port
        self.username = username
        self.password = password
        self.domain = domain
        self.timeout = timeout
        self.context = None
        if self.scheme == "https":
            self.context = ssl.create_default_context()
            if insecure:
                # The PBX's certificate is self-signed on first start.
                self.context.check_hostname = False
                self.context.verify_mode = ssl.CERT_NONE
        self._salt = None

    def _conn(self):
        if self.scheme == "https":
            return http.client.HTTPSConnection(
                self.host, self.port, timeout=self.timeout, context=self.context
            )
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def raw(self, method, path, headers=None, body=None):
        """One request; returns (status, headers as a dict with lowercase names, body bytes)."""
        c = self._conn()
        try:
            hdrs = {"Accept": "application/json"}
            hdrs.update(headers or {})
            if body is not None and not isinstance(body, bytes):
                body = body.encode("utf-8")
                hdrs.setdefault("Content-Type", "application/json")
            c.request(method, path, body=body, headers=hdrs)
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            c.close()

    def salt(self):
        if self._salt is None:
            status, headers, body = self.raw(
                "GET",
                "/rest/salt/" + urllib.parse.quote(self.domain, safe=""),
                headers={"Accept": "*/*"},
            )
            if status != 200:
                raise RuntimeError("salt: HTTP %d %r" % (status, body))
            text = body.decode("utf-8").strip()
            salt = text
            if "json" in headers.get("content-type", ""):
                v = json.loads(text)
                salt = v["salt"] if isinstance(v, dict) else v
            self._salt = salt
        return self._salt

    def header(self, nonce=None, created=None, password=None):
        nonce = nonce if nonce is not None else secrets.token_hex(16)
        created = created if created is not None else created_now()
        dp = digest_password(self.password if password is None else password, self.salt())
        d = digest(nonce, dp, self.username, self.domain, created)
        return (
            'RestApiUsernameToken Username="%s", Domain="%s", Digest="%s", Nonce="%s", Created="%s"'
            % (self.username, self.domain, d, nonce, created)
        )

    def call(self, method, path, body=None, header=None):
        h = header if header is not None else self.header()
        return self.raw(method, path, headers={"X-authenticate": h}, body=body)


def check(args):
    """The acceptance scenario; returns (ok, report)."""
    c = Client(args.base, args.user, args.password, args.domain, args.insecure)
    report = {"steps": {}}
    ok = True

    def step(name, got, want, extra=None):
        nonlocal ok
        passed = got == want
        ok = ok and passed
        entry = {"status": got, "expected": want, "ok": passed}
        if extra is not None:
            entry.update(extra)
        report["steps"][name] = entry

    salt = c.salt()
    report["salt"] = salt
    step("salt", 200 if salt else 0, 200)

    h = c.header()
    status, _, body = c.call("GET", "/rest/extension", header=h)
    listing = json.loads(body) if status == 200 else None
    step("list", status, 200, {"count": len(listing) if isinstance(listing, list) else None})
    report["extensions"] = [e.get("number") for e in listing] if isinstance(listing, list) else []

    if report["extensions"]:
        first = report["extensions"][0]
        status, _, body = c.call("GET", "/rest/extension/" + urllib.parse.quote(first))
        one = json.loads(body) if status == 200 else {}
        step("one", status, 200, {"number": one.get("number")})

    refusals = {}
    status, _, body = c.call("GET", "/rest/extension", header=h)
    step("replay", status, 401)
    refusals["replay"] = body

    old = c.header(created=created_now(-10 * 60))
    status, _, body = c.call("GET", "/rest/extension", header=old)
    step("old_created", status, 401)
    refusals["old_created"] = body

    short = c.header(nonce=secrets.token_hex(4)[:7])
    status, _, body = c.call("GET", "/rest/extension", header=short)
    step("short_nonce", status, 401)
    refusals["short_nonce"] = body

    wrong = c.header(password=args.password + "-wrong")
    status, _, body = c.call("GET", "/rest/extension", header=wrong)
    step("wrong_password", status, 401)
    refusals["wrong_password"] = body

    # The refusal must not say which part was wrong.
    same = len(set(refusals.values())) == 1
    report["refusals_identical"] = same
    ok = ok and same

    # A fresh header still works after the refusals.
    status, _, _ = c.call("GET", "/rest/extension")
    step("fresh_after_refusals", status, 200)
    report["ok"] = ok
    return ok, report


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--base", required=True, help="http[s]://host:port")
    p.add_argument("--user", default="admin")
    p.add_argument("--password", default="admin")
    p.add_argument("--domain", default="default")
    p.add_argument("--insecure", action="store_true", help="accept a self-signed certificate")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("check")
    sub.add_parser("salt")
    for m in ("get", "delete"):
        s = sub.add_parser(m)
        s.add_argument("path")
    for m in ("put", "post"):
        s = sub.add_parser(m)
        s.add_argument("path")
        s.add_argument("body")
    d = sub.add_parser("download", help="METHOD PATH [BODY]: save the body to --out")
    d.add_argument("method")
    d.add_argument("path")
    d.add_argument("body", nargs="?")
    d.add_argument("--out", required=True)
    h = sub.add_parser("hammer")
    h.add_argument("count", type=int)
    args = p.parse_args(argv)

    if args.cmd == "check":
        ok, report = check(args)
        print(json.dumps(report))
        return 0 if ok else 1
    c = Client(args.base, args.user, args.password, args.domain, args.insecure)
    if args.cmd == "salt":
        print(c.salt())
        return 0
    if args.cmd == "hammer":
        statuses = []
        for _ in range(args.count):
            status, headers, _ = c.call("GET", "/rest/extension", header=c.header(password="not-" + args.password))
            statuses.append({"status": status, "retry_after": headers.get("retry-after")})
        print(json.dumps(statuses))
        return 0
    if args.cmd == "download":
        status, headers, data = c.call(args.method.upper(), args.path, body=args.body)
        with open(args.out, "wb") as f:
            f.write(data)
        print(json.dumps({"status": status, "content_type": headers.get("content-type"),
                          "disposition": headers.get("content-disposition"), "bytes": len(data)}))
        return 0 if 200 <= status < 300 else 1
    body = getattr(args, "body", None)
    status, _, data = c.call(args.cmd.upper(), args.path, body=body)
    text = data.decode("utf-8", "replace")
    print(json.dumps({"status": status, "body": json.loads(text) if text.strip().startswith(("{", "[")) else text}))
    return 0 if 200 <= status < 300 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
