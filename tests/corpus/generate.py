"""The secret-gate corpus, generated at test time: planted secrets and benign changes, placed as real code holds them.

No key-shaped literal is stored: every value comes from `handoff/gate/rules.py` templates or a seeded
random generator when the corpus is built. A case is a change to a small repository (`files`: path ->
(old text or None, new text or None)) and/or texts (task, context, commits); `values` are the planted
secrets (they must never appear in a report and must be gone after `--redact`). Used by
tests/test_gate_corpus.py and bench/bench_gate_corpus.py.
"""

from __future__ import annotations

import base64
import difflib
import json
import random
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from handoff.gate.catalogue import RULES
from handoff.gate.rules import Rule, example, in_context, near_miss

Files = dict[str, tuple[str | None, str | None]]


@dataclass
class Case:
    name: str
    planted: bool
    files: Files = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    values: list[str] = field(default_factory=list)

    def patch(self) -> str:
        return "".join(file_diff(path, old, new) for path, (old, new) in self.files.items())


def file_diff(path: str, old: str | None, new: str | None) -> str:
    """A git-style unified diff of one file (3 lines of context), as `git diff` prints it."""
    old_lines = (old or "").splitlines(keepends=True)
    new_lines = (new or "").splitlines(keepends=True)
    head = f"diff --git a/{path} b/{path}\n"
    if old is None:
        head += "new file mode 100644\nindex 0000000..1111111\n"
    elif new is None:
        head += "deleted file mode 100644\nindex 1111111..0000000\n"
    else:
        head += "index 1111111..2222222 100644\n"
    body = list(
        difflib.unified_diff(
            old_lines,
            new_lines,
            "/dev/null" if old is None else f"a/{path}",
            "/dev/null" if new is None else f"b/{path}",
            n=3,
        )
    )
    out = []
    for line in body:
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return head + "".join(out)


# ---------------------------------------------------------------------------------------------
# Value generators (seeded)


class Gen:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def chars(self, alphabet: str, n: int) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def password(self, n: int = 16) -> str:
        """A password a person or a generator would set: letters, digits, one symbol."""
        body = self.chars(string.ascii_letters + string.digits, n - 2)
        return body[: n // 2] + self.rng.choice("!#%*+") + self.rng.choice(string.digits) + body[n // 2 :]

    def alnum(self, n: int) -> str:
        return self.chars(string.ascii_letters + string.digits, n)

    def hex(self, n: int) -> str:
        return self.chars("0123456789abcdef", n)

    def b64(self, nbytes: int) -> str:
        return base64.b64encode(self.rng.randbytes(nbytes)).decode()

    def aws_id(self) -> str:
        return "AKIA" + self.chars("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)

    def aws_secret(self) -> str:
        return self.chars(string.ascii_letters + string.digits + "+/", 40)

    def pem(self, kind: str = "RSA PRIVATE KEY", rows: int = 12) -> str:
        lines = [f"-----BEGIN {kind}-----"]
        lines += [self.b64(48) for _ in range(rows)]
        lines.append(self.b64(20))
        lines.append(f"-----END {kind}-----")
        return "\n".join(lines) + "\n"

    def jwt(self, payload: dict | None = None) -> str:
        def part(obj: dict) -> str:
            return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

        payload = payload or {"sub": self.hex(12), "iat": 1700000000 + self.rng.randrange(10**6), "role": "admin"}
        sig = base64.urlsafe_b64encode(self.rng.randbytes(32)).decode().rstrip("=")
        return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(payload)}.{sig}"


# ---------------------------------------------------------------------------------------------
# Placements: how real code holds a token


def _py(value: str, name: str = "API_TOKEN") -> tuple[str, str]:
    return "app/settings.py", f'import os\n\nDEBUG = False\n{name} = "{value}"\nTIMEOUT = 30\n'


PLACEMENTS: list[Callable[[str], tuple[str, str]]] = [
    lambda v: _py(v),
    lambda v: (".env.production", f"NODE_ENV=production\nSERVICE_TOKEN={v}\nPORT=8080\n"),
    lambda v: ("deploy/values.yaml", f"replicaCount: 2\nintegration:\n  enabled: true\n  token: {v}\n"),
    lambda v: (
        "scripts/sync.sh",
        f'#!/bin/sh\nset -eu\ncurl -fsS "https://api.acme-corp.io/v1/sync?token={v}&full=1"\n',
    ),
    lambda v: ("scripts/release.sh", f"#!/bin/sh\nset -e\n./bin/publish --token {v} --channel stable dist/\n"),
    lambda v: (
        "docs/api.md",
        f'# API\n\nCall it like this:\n\n    curl -H "X-Service-Key: {v}" https://api.acme-corp.io/v2/items\n',
    ),
    lambda v: (
        "src/client.ts",
        f"import {{ Client }} from './sdk';\n\nexport const client = new Client('{v}', {{ retries: 3 }});\n",
    ),
    lambda v: (
        "config/app.json",
        json.dumps({"name": "billing", "integrations": {"provider": {"key": v}}}, indent=2) + "\n",
    ),
    lambda v: ("main.go", f'package main\n\nfunc main() {{\n\tc := sdk.New("{v}")\n\tc.Run()\n}}\n'),
    lambda v: ("notes/TODO.md", f"- rotate the staging credential {v} after the demo\n- update the changelog\n"),
]


def rule_cases(gen: Gen) -> Iterator[Case]:
    """Every catalogue rule: a valid-shaped example planted in one of the placements, and its near miss (benign)."""
    for index, rule in enumerate(RULES):
        value = example(rule, gen.rng)
        if rule.context != "{}":
            path, text = ("scripts/ops.sh", "#!/bin/sh\nset -e\n" + in_context(rule, value) + "\n")
        else:
            path, text = PLACEMENTS[index % len(PLACEMENTS)](value)
        yield Case(f"rule/{rule.id}", True, files={path: (None, text)}, values=[value])
        miss = near_miss(rule, gen.rng)
        path, text = _py(in_context(rule, miss) if rule.context != "{}" else miss, "LABEL")
        yield Case(f"near-miss/{rule.id}", False, files={path: (None, text)})


def prose_cases(gen: Gen) -> Iterator[Case]:
    """Vendor tokens in the task, the context and a commit subject (prose, not code)."""
    picks = [r for r in RULES if not r.generic and r.context == "{}"][::6]
    for rule in picks:
        value = example(rule, gen.rng)
        yield Case(
            f"task/{rule.id}",
            True,
            texts={"task": f"The deploy fails with {value}, please fix the CI."},
            values=[value],
        )
    value = example(picks[0], gen.rng)
    yield Case(
        "commits/subject", True, texts={"commits": f"abc1234 temporarily hardcode {value} for CI"}, values=[value]
    )


def _rule(rule_id: str) -> Rule:
    return next(rule for rule in RULES if rule.id == rule_id)


def ds_plugin_cases(gen: Gen) -> Iterator[Case]:
    """Formats detect-secrets' own plugins know, placed as code holds them."""
    ghp = "ghp_" + gen.alnum(36)
    yield Case(
        "ds/github-ghp",
        True,
        files={
            ".github/workflows/ci.yml": (
                None,
                (
                    "name: ci\non: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    env:\n"
                    f"      GH_TOKEN: {ghp}\n    steps:\n      - uses: actions/checkout@v4\n"
                ),
            )
        },
        values=[ghp],
    )
    ghs = "ghs_" + gen.alnum(36)
    yield Case(
        "ds/github-ghs-url",
        True,
        files={"Makefile": (None, f"clone:\n\tgit clone https://x-access-token:{ghs}@github.com/acme/infra.git\n")},
        values=[ghs],
    )
    ghu = "ghu_" + gen.alnum(36)
    yield Case(
        "ds/github-ghu-header",
        True,
        files={"tools/api.http": (None, f"GET https://api.github.com/user\nAuthorization: token {ghu}\n")},
        values=[ghu],
    )
    glpat = "glpat-" + gen.chars(string.ascii_letters + string.digits + "_-", 20)
    yield Case(
        "ds/gitlab-pat",
        True,
        files={".gitlab-ci.yml": (None, f'variables:\n  GITLAB_TOKEN: "{glpat}"\nbuild:\n  script: make\n')},
        values=[glpat],
    )
    aws_id, aws_secret = gen.aws_id(), gen.aws_secret()
    yield Case(
        "ds/aws-pair-python",
        True,
        files={
            "etl/s3.py": (
                None,
                (
                    "import boto3\n\n"
                    f"s3 = boto3.client('s3', aws_access_key_id='{aws_id}',\n"
                    f"                  aws_secret_access_key='{aws_secret}')\n"
                ),
            )
        },
        values=[aws_id, aws_secret],
    )
    xoxb = f"xoxb-{gen.chars(string.digits, 12)}-{gen.chars(string.digits, 13)}-{gen.alnum(24).lower()}"
    yield Case("ds/slack-bot", True, files={"bot/config.py": (None, f"SLACK_BOT_TOKEN = '{xoxb}'\n")}, values=[xoxb])
    hook = (
        f"https://hooks.slack.com/services/T{gen.chars(string.ascii_uppercase, 8)}/"
        f"B{gen.chars(string.ascii_uppercase, 8)}/{gen.alnum(24)}"
    )
    yield Case(
        "ds/slack-webhook",
        True,
        files={"alerts/notify.js": (None, f'const WEBHOOK = "{hook}";\nmodule.exports = {{ WEBHOOK }};\n')},
        values=[hook],
    )
    stripe = "sk_live_" + gen.alnum(99)
    yield Case(
        "ds/stripe-long", True, files={"billing/stripe.rb": (None, f"Stripe.api_key = '{stripe}'\n")}, values=[stripe]
    )
    b64url = string.ascii_letters + string.digits + "_-"
    sendgrid = f"SG.{gen.chars(b64url, 22)}.{gen.chars(b64url, 43)}"
    yield Case(
        "ds/sendgrid", True, files={"mail/settings.py": (None, f'SENDGRID_API_KEY = "{sendgrid}"\n')}, values=[sendgrid]
    )
    twilio = "SK" + gen.hex(32)
    yield Case(
        "ds/twilio",
        True,
        files={"sms/twilio.php": (None, f"<?php\n$client = new Client('{twilio}', getenv('TWILIO_SECRET'));\n")},
        values=[twilio],
    )
    jwt = gen.jwt()
    yield Case(
        "ds/jwt-header",
        True,
        files={"tests/http/session.http": (None, f"GET https://api.acme-corp.io/me\nAuthorization: Bearer {jwt}\n")},
        values=[jwt],
    )
    telegram = f"{gen.chars(string.digits, 10)}:AA{gen.chars(string.ascii_letters + string.digits + '_-', 33)}"
    yield Case("ds/telegram", True, files={"bot.py": (None, f'bot = Bot(token="{telegram}")\n')}, values=[telegram])
    account = gen.b64(64)
    yield Case(
        "ds/azure-storage",
        True,
        files={
            "appsettings.json": (
                None,
                json.dumps(
                    {
                        "Storage": f"DefaultEndpointsProtocol=https;AccountName=acmeprod;AccountKey={account};"
                        "EndpointSuffix=core.windows.net"
                    },
                    indent=2,
                )
                + "\n",
            )
        },
        values=[account],
    )
    mailchimp = gen.hex(32) + "-us14"
    yield Case(
        "ds/mailchimp",
        True,
        files={"newsletter/cfg.ini": (None, f"[mailchimp]\napikey = {mailchimp}\n")},
        values=[mailchimp],
    )
    npm_auth = gen.alnum(36)
    yield Case(
        "ds/npmrc-authtoken",
        True,
        files={
            ".npmrc": (
                None,
                f"registry=https://registry.acme-corp.io/\n//registry.acme-corp.io/:_authToken={npm_auth}\n",
            )
        },
        values=[npm_auth],
    )
    pypi = "pypi-AgEIcHlwaS5vcmc" + gen.chars(string.ascii_letters + string.digits + "_-", 120)
    yield Case(
        "ds/pypirc",
        True,
        files={".pypirc": (None, f"[pypi]\nusername = __token__\npassword = {pypi}\n")},
        values=[pypi],
    )
    for kind in ("RSA PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY", "PRIVATE KEY", "ENCRYPTED PRIVATE KEY"):
        pem = gen.pem(kind)
        slug = kind.split()[0].lower()
        yield Case(
            f"ds/pem-{slug}",
            True,
            files={f"deploy/keys/{slug}.txt": (None, pem)},
            values=[line for line in pem.splitlines()[1:-1]],
        )
    square = "sq0csp-" + gen.chars(string.ascii_letters + string.digits + "_-", 43)
    yield Case("ds/square", True, files={"pay/config.py": (None, f"SQUARE_SECRET = '{square}'\n")}, values=[square])
    discord = (
        f"M{gen.chars(string.ascii_letters + string.digits, 23)}.{gen.chars(string.ascii_letters, 6)}."
        f"{gen.chars(string.ascii_letters + string.digits + '_-', 27)}"
    )
    yield Case("ds/discord-bot", True, files={"bot/main.js": (None, f"client.login('{discord}');\n")}, values=[discord])


def more_ds_plugin_cases(gen: Gen) -> Iterator[Case]:
    """The rest of detect-secrets' plugins, one case each."""
    forms = [
        ("ci/artifactory.properties", "artifactory.url=https://acme.jfrog.io\nartifactory.key=AKC{}\n", gen.alnum(70)),
        ("db/cloudant.py", "URL = 'https://acme-db:{}@acme-db.cloudant.com'\n", gen.hex(64)),
        ("ibm/iam.yaml", 'ibm_cloud_iam_api_key: "{}"\n', gen.chars(string.ascii_letters + string.digits + "_-", 44)),
        ("ibm/cos.ini", "[cos]\nsecret_access_key = {}\n", gen.hex(48)),
        ("infra/softlayer.tf", 'softlayer_api_key = "{}"\n', gen.hex(64)),
        (
            "ml/openai_client.ts",
            "const client = new OpenAI({{ apiKey: 'sk-{}' }});\n",
            gen.alnum(20) + "T3BlbkFJ" + gen.alnum(20),
        ),
        ("crypto/hmac.go", 'var hmacSecret = "{}"\n', gen.hex(64)),
        ("cfg/app.json", '{{"session": {{"signing_key": "{}"}}}}\n', gen.b64(48)),
    ]
    for path, template, value in forms:
        yield Case(f"ds/{path}", True, files={path: (None, template.format(value))}, values=[value])


def key_block_cases(gen: Gen) -> Iterator[Case]:
    putty = (
        "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: deploy@ci\nPublic-Lines: 2\n"
        f"{gen.b64(48)}\n{gen.b64(12)}\nKey-Derivation: Argon2id\nPrivate-Lines: 1\n{gen.b64(36)}\n"
        f"Private-MAC: {gen.hex(64)}\n"
    )
    yield Case(
        "key/putty-v3",
        True,
        files={"ops/deploy.ppk": (None, putty)},
        values=[putty.splitlines()[8], putty.splitlines()[-1].split()[-1]],
    )
    vpn = (
        "#\n# 2048 bit OpenVPN static key\n#\n-----BEGIN OpenVPN Static key V1-----\n"
        + "".join(gen.hex(32) + "\n" for _ in range(16))
        + "-----END OpenVPN Static key V1-----\n"
    )
    yield Case("key/openvpn-static", True, files={"vpn/ta.key.txt": (None, vpn)}, values=[vpn.splitlines()[5]])
    age = example(_rule("age-secret-key"), gen.rng)
    yield Case(
        "key/age-identity",
        True,
        files={
            "secrets/age.txt": (
                None,
                "# created: 2026-01-01T00:00:00Z\n"
                f"# public key: age1{gen.chars('qpzry9x8gf2tvdw0s3jn54khce6mua7l', 58)}\n{age}\n",
            )
        },
        values=[age],
    )
    # Only body lines changed: the BEGIN line sits far above the hunk.
    old_pem, new_pem = gen.pem(rows=25), gen.pem(rows=25)
    old_lines, new_lines = old_pem.splitlines(), new_pem.splitlines()
    mixed = old_lines[:12] + new_lines[12:20] + old_lines[20:]
    yield Case(
        "key/body-only-hunk",
        True,
        files={"deploy/tls/key.txt": ("\n".join(old_lines) + "\n", "\n".join(mixed) + "\n")},
        values=new_lines[12:20] + old_lines[12:20],
    )
    # A key rotated in place: removed lines are the old key, also on their way out.
    yield Case(
        "key/rotated-in-place",
        True,
        files={"config/signing.txt": ("signing:\n" + old_pem, "signing:\n" + new_pem)},
        values=old_lines[1:-1] + new_lines[1:-1],
    )
    # A service-account JSON: the key is one JSON string with \n escapes.
    pem = gen.pem("PRIVATE KEY")
    sa = json.dumps(
        {
            "type": "service_account",
            "project_id": "acme-prod",
            "private_key_id": gen.hex(40),
            "private_key": pem,
            "client_email": "ci@acme-prod.iam.gserviceaccount.com",
        },
        indent=2,
    )
    yield Case(
        "key/gcp-service-account",
        True,
        files={"ci/sa.json": (None, sa + "\n")},
        values=[pem.splitlines()[3], pem.splitlines()[1]],
    )


def structure_cases(gen: Gen) -> Iterator[Case]:
    pw = gen.password()
    yield Case(
        "yaml/plain-value",
        True,
        files={
            "config/database.yml": (
                None,
                f"production:\n  adapter: postgresql\n  host: db.internal\n  password: {pw}\n",
            )
        },
        values=[pw],
    )
    block = gen.alnum(44)
    yield Case(
        "yaml/block-scalar",
        True,
        files={"deploy/secret-values.yaml": (None, f"app:\n  apiSecret: |\n    {block}\n  replicas: 3\n")},
        values=[block],
    )
    pem = gen.pem("EC PRIVATE KEY", rows=3)
    b64pem = base64.b64encode(pem.encode()).decode()
    kubeconfig = (
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: https://10.0.0.1:6443\n  name: prod\n"
        "users:\n- name: admin\n  user:\n"
        f"    client-certificate-data: {gen.b64(60)}\n    client-key-data: {b64pem}\n"
    )
    yield Case("k8s/kubeconfig-client-key", True, files={"ops/kubeconfig": (None, kubeconfig)}, values=[b64pem])
    db_pw = gen.password(20)
    token = example(_rule("stripe-webhook-secret"), gen.rng)
    enc_pw, enc_token = base64.b64encode(db_pw.encode()).decode(), base64.b64encode(token.encode()).decode()
    yield Case(
        "k8s/secret-data",
        True,
        files={
            "k8s/secret.yaml": (
                None,
                (
                    "apiVersion: v1\nkind: Secret\nmetadata:\n  name: billing\ntype: Opaque\ndata:\n"
                    f"  DB_PASSWORD: {enc_pw}\n  STRIPE_WEBHOOK: {enc_token}\n"
                ),
            )
        },
        values=[enc_pw, enc_token],
    )
    aws_id, aws_secret = gen.aws_id(), gen.aws_secret()
    yield Case(
        "aws/credentials-file",
        True,
        files={
            ".aws/credentials": (
                None,
                f"[default]\naws_access_key_id = {aws_id}\naws_secret_access_key = {aws_secret}\nregion = eu-west-1\n",
            )
        },
        values=[aws_id, aws_secret],
    )
    aws_id, aws_secret = gen.aws_id(), gen.aws_secret()
    yield Case(
        "aws/bare-secret-beside-id",
        True,
        files={"ci/vars.yml": (None, f"s3:\n  id: {aws_id}\n  key: {aws_secret}\n  bucket: acme-artifacts\n")},
        values=[aws_id, aws_secret],
    )
    aws_id, aws_secret = gen.aws_id(), gen.aws_secret()
    yield Case(
        "aws/csv-export",
        True,
        files={"tmp/accessKeys.csv": (None, f"Access key ID,Secret access key\n{aws_id},{aws_secret}\n")},
        values=[aws_id, aws_secret],
    )
    pw = gen.password()
    yield Case(
        "cred/netrc",
        True,
        files={"home/.netrc": (None, f"machine api.acme-corp.io\n  login deploy\n  password {pw}\n")},
        values=[pw],
    )
    pw = gen.password()
    yield Case(
        "cred/pgpass", True, files={"home/.pgpass": (None, f"db.acme-corp.io:5432:orders:app:{pw}\n")}, values=[pw]
    )
    pw = gen.password()
    auth = base64.b64encode(f"ci-bot:{pw}".encode()).decode()
    yield Case(
        "cred/docker-config",
        True,
        files={
            ".docker/config.json": (
                None,
                json.dumps({"auths": {"registry.acme-corp.io": {"auth": auth}}}, indent=2) + "\n",
            )
        },
        values=[auth],
    )
    pw = gen.password()
    npm_auth = base64.b64encode(f"deploy:{pw}".encode()).decode()
    yield Case(
        "cred/npmrc-auth",
        True,
        files={".npmrc": (None, f"//npm.acme-corp.io/:_auth={npm_auth}\nalways-auth=true\n")},
        values=[npm_auth],
    )
    # Long one-line JSON (a notebook output, minified config): keep keyword and entropy checks.
    pw = gen.password()
    blob = json.dumps(
        {
            "rows": [{"id": i, "name": f"item-{i}", "tags": ["a", "b"]} for i in range(60)],
            "settings": {"db": {"host": "db.internal", "password": pw}},
        }
    )
    yield Case("long/one-line-json", True, files={"data/export.json": (None, blob + "\n")}, values=[pw])
    secret = gen.alnum(40)
    notebook = json.dumps(
        {
            "cells": [
                {
                    "cell_type": "code",
                    "source": ["import requests\n", f'api_secret = "{secret}"\n', "r = requests.get(url)\n"],
                    "outputs": [{"data": {"text/plain": ["x" * 1200]}}],
                }
            ]
        }
    )
    yield Case("long/notebook", True, files={"analysis.ipynb": (None, notebook + "\n")}, values=[secret])
    pw = gen.password()
    yield Case("bom/dotenv", True, files={".env.staging": (None, f"\ufeffDB_PASSWORD={pw}\nDEBUG=0\n")}, values=[pw])


def cli_cases(gen: Gen) -> Iterator[Case]:
    """Credentials on command lines and in HTTP Basic headers."""
    pw = gen.password()
    yield Case("cli/docker-login", True, files={".github/workflows/push.yml": (None, (
        "jobs:\n  push:\n    steps:\n      - run: docker login -u ci-bot -p " + pw + " registry.acme-corp.io\n"))},
        values=[pw])
    pw = gen.password()
    script = f"#!/bin/sh\nsshpass -p '{pw}' ssh deploy@10.0.4.2 ./up\n"
    yield Case("cli/sshpass", True, files={"deploy.sh": (None, script)}, values=[pw])
    basic = base64.b64encode(f"deploy:{gen.password()}".encode()).decode()
    yield Case("header/basic", True, files={"api/smoke.http": (None,
               f"GET https://api.acme-corp.io/v1/health\nAuthorization: Basic {basic}\n")}, values=[basic])


def redteam_cases(gen: Gen) -> Iterator[Case]:
    """Placements an independent red-team corpus found missed: literals in calls, query strings, netrc lines."""
    pw = gen.password()
    yield Case("call/keyword-argument", True, files={"etl/load.py": (None, (
        f"conn = psycopg2.connect(host='db', user='etl', password='{pw}')\n"))}, values=[pw])
    pw = gen.password()
    cell = {"cell_type": "code", "source": ["import pymysql\n", f"db = pymysql.connect(user='ana', password='{pw}')\n"]}
    yield Case("call/notebook-keyword-argument", True, files={"explore.ipynb": (None, json.dumps({"cells": [cell]}))},
               values=[pw])
    key, pw = gen.hex(40), gen.password()
    yield Case("query/api-key", True, files={"ops/check.sh": (None, (
        f"curl 'https://api.acme-corp.io/v1/validate?application_key={key}&format=json'\n"))}, values=[key])
    yield Case("query/jdbc-password", True, files={"conf/jdbc.txt": (None, (
        f"jdbc:mysql://db.acme-corp.io:3306/shop?user=app&password={pw}\n"))}, values=[pw])
    pw = gen.password()
    netrc = f"machine git.acme-corp.io login bot password {pw}\n"
    yield Case("netrc/one-line-elsewhere", True, files={"ci/netrc": (None, netrc)}, values=[pw])
    pw = gen.password() + "Zq7"        # mixed case and digits whatever the seed draws
    yield Case("url/documentation-host-real-password", True, files={"app/settings.py": (None, (
        f'DATABASE_URL = "postgresql://svc:{pw}@db.internal.example.com:5432/app"\n'))}, values=[pw])
    token = "dp.st.prd." + gen.alnum(43)
    yield Case("doppler/service-token-with-config", True, files={"web/doppler.ts": (None, (
        f"const doppler = new Doppler({{ region: 'eu' }}, '{token}');\n"))}, values=[token])


def connection_cases(gen: Gen) -> Iterator[Case]:
    for scheme in ("postgresql", "mysql", "mongodb+srv", "amqps", "rediss", "mssql", "clickhouse", "sftp"):
        pw = gen.password()
        yield Case(
            f"url/{scheme}",
            True,
            files={
                "app/db.py": (
                    None,
                    f'DATABASE_URL = "{scheme}://app_user:{pw}@db-{gen.hex(6)}.acme-corp.io:5432/main"\n',
                )
            },
            values=[pw],
        )
    pw = gen.password()
    yield Case(
        "url/redis-empty-user",
        True,
        files={
            "docker-compose.yml": (
                None,
                (
                    "services:\n  worker:\n    image: acme/worker\n    environment:\n"
                    f"      - REDIS_URL=redis://:{pw}@cache:6379/0\n"
                ),
            )
        },
        values=[pw],
    )
    pw = gen.password()
    yield Case(
        "url/localhost-real-password",
        True,
        files={"tests/conftest.py": (None, f'ENGINE = create_engine("postgresql://admin:{pw}@localhost:5432/test")\n')},
        values=[pw],
    )
    pw = gen.password()
    yield Case(
        "dsn/go-mysql",
        True,
        files={
            "cmd/api/main.go": (
                None,
                f'package main\n\nconst dsn = "orders:{pw}@tcp(db.internal:3306)/orders?parseTime=true"\n',
            )
        },
        values=[pw],
    )
    pw = gen.password()
    yield Case(
        "dsn/odbc",
        True,
        files={
            "Data/Db.cs": (
                None,
                (
                    "public static class Db {\n    public const string Conn =\n"
                    f'        "Server=sql01.acme-corp.io;Database=orders;User Id=app;Password={pw};Encrypt=true";\n}}\n'
                ),
            )
        },
        values=[pw],
    )
    pw = gen.password()
    yield Case(
        "dsn/jdbc-query",
        True,
        files={
            "src/main/resources/application.properties": (
                None,
                f"spring.datasource.url=jdbc:mysql://db.internal:3306/orders?user=app&password={pw}\n",
            )
        },
        values=[pw],
    )
    pw = gen.password()
    yield Case(
        "cli/curl-u",
        True,
        files={
            "scripts/backup.sh": (
                None,
                f"#!/bin/sh\ncurl -fsS -u backup:{pw} https://nexus.acme-corp.io/repository/raw/db.tgz -o db.tgz\n",
            )
        },
        values=[pw],
    )
    pw = gen.password()
    yield Case(
        "cli/mysql-p",
        True,
        files={"Makefile": (None, f"dump:\n\tmysqldump -u root -p{pw} orders > dump.sql\n")},
        values=[pw],
    )
    pw = gen.password()
    yield Case(
        "cli/password-flag",
        True,
        files={"README.md": (None, f"## Restore\n\n    ./restore --host db.internal --password {pw} --all\n")},
        values=[pw],
    )
    pw = gen.password()
    yield Case(
        "text/context-dotenv",
        True,
        texts={
            "task": "Fix the login flow",
            "context": f"Here is my env:\nDATABASE_HOST=db.internal\nDATABASE_PASSWORD={pw}\nDEBUG=true\n",
        },
        values=[pw],
    )
    token = gen.alnum(32)
    yield Case(
        "text/task-keyvalue",
        True,
        texts={"task": f"Use API_SECRET={token} when calling the staging API"},
        values=[token],
    )


def keyword_cases(gen: Gen) -> Iterator[Case]:
    """Generic passwords and secrets by name, in many languages and formats."""
    forms = [
        ("config/settings.py", "SECRET_KEY = '{v}'\n"),
        ("app/__init__.py", 'app.secret_key = "{v}"\n'),
        ("config/secrets.yml.erb", "production:\n  secret_key_base: {v}\n"),
        ("src/main/resources/application.yml", 'spring:\n  datasource:\n    password: "{v}"\n'),
        ("infra/prod.tfvars", 'db_password = "{v}"\n'),
        ("Dockerfile", 'FROM python:3.12\nENV ADMIN_PASSWORD={v}\nCMD ["./run"]\n'),
        ("docker-compose.override.yml", "services:\n  db:\n    environment:\n      POSTGRES_PASSWORD: {v}\n"),
        (".github/workflows/deploy.yml", "jobs:\n  deploy:\n    env:\n      DEPLOY_PASSWORD: {v}\n"),
        ("src/config.js", "module.exports = {{ db: {{ user: 'app', password: '{v}' }} }};\n"),
        ("src/Config.java", 'class Config {{\n  static final String PASSWORD = "{v}";\n}}\n'),
        ("config/app.php", "<?php\nreturn ['db_pass' => '{v}'];\n"),
        ("lib/client.rb", 'CLIENT_SECRET = "{v}".freeze\n'),
        ("internal/cfg.go", 'var clientSecret = "{v}"\n'),
        ("conf/app.ini", "[database]\npassword = {v}\n"),
        ("conf/app.toml", '[auth]\nsigning_secret = "{v}"\n'),
        ("settings.xml", "<server><id>nexus</id><password>{v}</password></server>\n"),
        ("config.properties", "mail.smtp.password={v}\n"),
        ("k8s/deploy.yaml", 'env:\n  - name: API_KEY\n    value: "{v}"\n'),
        ("ansible/group_vars/all.yml", "vault_db_password: {v}\n"),
        ("src/app.kt", 'val apiKey = "{v}"\n'),
        ("tests/fixtures/jwk.json", '{{"kty": "RSA", "kid": "k1", "n": "{n}", "e": "AQAB", "d": "{v}"}}\n'),
    ]
    for index, (path, template) in enumerate(forms):
        value = gen.b64(64).rstrip("=") if "jwk" in path else (gen.hex(64) if index % 3 == 0 else gen.password(18))
        text = template.format(v=value, n=gen.b64(64).rstrip("="))
        yield Case(f"keyword/{path}", True, files={path: (None, text)}, values=[value])
    for prefix in ("my", "the", "your", "some"):
        value = prefix + gen.password(14)
        yield Case(
            f"keyword/prefix-{prefix}", True, files={"conf/local.py": (None, f'PASSWORD = "{value}"\n')}, values=[value]
        )
    value = gen.password(14) + "."
    yield Case(
        "keyword/trailing-punctuation",
        True,
        files={"conf/local2.py": (None, f"password = '{value}'\n")},
        values=[value],
    )
    value = gen.password()
    yield Case(
        "diff/removed-line",
        True,
        files={
            "conf/db.py": (
                f"import os\nDB_PASSWORD = '{value}'\nPORT = 5432\n",
                "import os\nDB_PASSWORD = os.environ['DB_PASSWORD']\nPORT = 5432\n",
            )
        },
        values=[value],
    )
    value = gen.password()
    old = "".join(f"LINE_{i} = {i}\n" for i in range(5)) + f"DB_PASSWORD = '{value}'\n" + "PORT = 5432\n"
    yield Case(
        "diff/context-line",
        True,
        files={"conf/ctx.py": (old, old.replace("PORT = 5432", "PORT = 6543"))},
        values=[value],
    )
    jwt = gen.jwt()
    yield Case(
        "jwt/signature",
        True,
        files={"tests/api_test.py": (None, f'TOKEN = "{jwt}"\n')},
        values=[jwt, jwt.rsplit(".", 1)[1]],
    )


def planted(seed: int = 7) -> list[Case]:
    gen = Gen(seed)
    cases = [case for case in rule_cases(gen) if case.planted]
    for source in (
        prose_cases,
        cli_cases,
        redteam_cases,
        ds_plugin_cases,
        more_ds_plugin_cases,
        key_block_cases,
        structure_cases,
        connection_cases,
        keyword_cases,
    ):
        cases.extend(source(gen))
    return cases


# ---------------------------------------------------------------------------------------------
# Benign


def benign_cases(gen: Gen) -> Iterator[Case]:
    z40 = "0" * 40
    placeholders = [
        ("app/settings.py", "SECRET_KEY = 'changeme'\nDB_PASSWORD = \"changethis\"\nAPI_TOKEN = '<your-token>'\n"),
        (
            ".env.example",
            "DATABASE_URL=postgres://user:password@localhost:5432/app\nSTRIPE_KEY=sk_live_xxxxxxxxxxxxxxxxxxxxxxxx\n"
            "OPENAI_API_KEY=\nAWS_SECRET_ACCESS_KEY=\n",
        ),
        (
            "docker-compose.yml",
            "services:\n  db:\n    environment:\n      POSTGRES_PASSWORD: ${POSTGRES_PASSWORD}\n"
            "      REDIS_URL: redis://:${REDIS_PASSWORD}@cache:6379\n",
        ),
        ("docs/setup.md", "Set `GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx` or use `gh auth token`.\n"),
        ("tests/test_auth.py", f"def test_zero_key():\n    assert not valid('{z40}')\n    token = 'x' * 40\n"),
        (
            "k8s/deployment.yaml",
            "env:\n  - name: DB_PASSWORD\n    valueFrom:\n      secretKeyRef:\n        name: db-creds\n"
            "        key: password\n",
        ),
        (
            "charts/app/values.yaml",
            "auth:\n  existingSecret: my-secret\n  existingSecretPasswordKey: password\n"
            "  secretName: app-credentials\n",
        ),
        (
            "src/login.html",
            '<input type="password" name="password" placeholder="Password" autocomplete="current-password">\n',
        ),
        (
            "scripts/ci.sh",
            '#!/bin/sh\ncurl -u "$CI_USER:$CI_TOKEN" https://ci.acme-corp.io/api\n'
            'curl -H "Authorization: Bearer $API_TOKEN" https://api.acme-corp.io\n',
        ),
        (
            "docs/auth.md",
            "Send `Authorization: Bearer <token>` with every request.\n"
            "Example: `curl -H 'X-Api-Key: YOUR_API_KEY' https://api.acme-corp.io`\n",
        ),
        ("config/prod.py", "import os\nPASSWORD = os.environ[\"DB_PASSWORD\"]\nSECRET = get_secret('app/prod')\n"),
        ("templates/secret.yaml", "stringData:\n  password: {{ .Values.db.password | quote }}\n"),
        (".npmrc", "//registry.npmjs.org/:_authToken=${NPM_TOKEN}\nalways-auth=true\n"),
        ("app/db.go", 'dsn := fmt.Sprintf("%s:%s@tcp(%s)/%s", user, pass, host, name)\n'),
        ("README.md", "Connect with `psql postgres://postgres:postgres@localhost:5432/dev` (local docker only).\n"),
        (
            "config/database.yml",
            "development:\n  url: redis://localhost:6379/0\n  password: <%= ENV['DB_PASSWORD'] %>\n",
        ),
        ("app/forms.py", "password = forms.CharField(widget=forms.PasswordInput, label=_('Password'))\n"),
        ("src/auth.ts", "const password = await prompt('Password: ');\nconst secret = process.env.JWT_SECRET!;\n"),
    ]
    placeholders.append(("docs/auth.http", "GET https://api.acme-corp.io\nAuthorization: Basic dXNlcjpwYXNz\n"))
    placeholders.append(("scripts/login.sh", "docker login -u \"$REGISTRY_USER\" -p \"$REGISTRY_TOKEN\" reg.io\n"))
    for index, (path, text) in enumerate(placeholders):
        yield Case(f"benign/placeholder-{index}", False, files={path: (None, text)})
    vapid = base64.urlsafe_b64encode(b"\x04" + gen.rng.randbytes(64)).decode().rstrip("=")
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + gen.rng.randbytes(90)).decode()
    public = [
        ("web/checkout.js", f"const stripe = Stripe('pk_live_{gen.alnum(99)}');\n"),
        ("web/env.ts", f"export const STRIPE_PUBLISHABLE_KEY = 'pk_test_{gen.alnum(99)}';\n"),
        (
            "web/captcha.html",
            f'<div class="g-recaptcha" data-sitekey="6L{gen.alnum(38)}"></div>\n',
        ),
        ("web/turnstile.ts", f'const TURNSTILE_SITE_KEY = "0x4AAAAAAA{gen.alnum(14)}";\n'),
        ("web/push.js", f"const VAPID_PUBLIC_KEY = '{vapid}';\n"),
        (
            "android/network_security_config.xml",
            f'<pin digest="SHA-256">{gen.b64(32)}</pin>\n<pin digest="SHA-256">{gen.b64(32)}</pin>\n',
        ),
        ("nginx/hpkp.conf", f"add_header Public-Key-Pins 'pin-sha256=\"{gen.b64(32)}\"; max-age=5184000';\n"),
        (
            "public/.well-known/jwks.json",
            json.dumps(
                {
                    "keys": [
                        {"kty": "RSA", "use": "sig", "kid": gen.hex(16), "n": gen.b64(256).rstrip("="), "e": "AQAB"}
                    ]
                },
                indent=2,
            )
            + "\n",
        ),
        (
            "docs/.vitepress/config.ts",
            f"algolia: {{\n  appId: '{gen.chars(string.ascii_uppercase + string.digits, 10)}',\n"
            f"  apiKey: '{gen.hex(32)}',\n  indexName: 'acme-docs'\n}}\n",
        ),
        ("web/firebase.ts", "const supabase = createClient(url, 'sb_publishable_" + gen.alnum(32) + "');\n"),
        (
            "web/map.js",
            f"mapboxgl.accessToken = 'pk.eyJ{gen.chars(string.ascii_letters + string.digits, 60)}.{gen.alnum(22)}';\n",
        ),
        (
            "locales/de.json",
            json.dumps(
                {"login": {"password": "Passwort", "secret": "Geheimnis", "token": "Zugangsschlüssel"}},
                ensure_ascii=False,
                indent=2,
            )
            + "\n",
        ),
        (
            "locales/fr.yml",
            "fr:\n  password: Mot de passe\n  secret: Secret\n  forgot_password: Mot de passe oublié ?\n",
        ),
        ("locales/es.po", 'msgid "Password"\nmsgstr "Contraseña"\n\nmsgid "Secret"\nmsgstr "Secreto"\n'),
        ("ssh/known_hosts", f"github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{gen.b64(32)}\n"),
        ("keys/deploy.pub", f"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ{gen.b64(256)} ci@acme\n"),
        (
            "certs/ca.crt",
            "-----BEGIN CERTIFICATE-----\n"
            + "".join(gen.b64(48) + "\n" for _ in range(10))
            + "-----END CERTIFICATE-----\n",
        ),
        (
            "keys/signing.pub.pem",
            "-----BEGIN PUBLIC KEY-----\n"
            + "".join(gen.b64(48) + "\n" for _ in range(6))
            + "-----END PUBLIC KEY-----\n",
        ),
        (
            "src/crypto/pem.py",
            'HEADER = b"-----BEGIN RSA PRIVATE KEY-----"\nFOOTER = b"-----END RSA PRIVATE KEY-----"\n',
        ),
        ("web/supabase.ts", "const anon = '" + Gen(1).jwt({"iss": "supabase", "ref": "acme", "role": "anon"}) + "';\n"),
    ]
    for path, text in public:
        yield Case(f"benign/public/{path}", False, files={path: (None, text)})
    ids = [
        ("go.sum", "".join(f"github.com/acme/m{i} v1.{i}.0 h1:{gen.b64(32)}\n" for i in range(20))),
        ("requirements.txt", "".join(f"pkg{i}==1.0 --hash=sha256:{gen.hex(64)}\n" for i in range(20))),
        ("CHANGELOG.md", "".join(f"- {gen.hex(40)} fix the parser ({gen.hex(7)})\n" for i in range(20))),
        ("migrations/0042_auto.py", f"revision = '{gen.hex(12)}'\ndown_revision = '{gen.hex(12)}'\n"),
        (
            "src/ids.ts",
            "".join(
                f"export const ID_{i} = '{gen.hex(8)}-{gen.hex(4)}-4{gen.hex(3)}-a{gen.hex(3)}-{gen.hex(12)}';\n"
                for i in range(10)
            ),
        ),
        ("tests/fixtures/img.py", f'PNG = "{png}"\n'),
        (
            "web/index.html",
            "".join(f'<script src="/a{i}.js" integrity="sha384-{gen.b64(48)}"></script>\n' for i in range(5)),
        ),
        ("Cargo.lock", "".join(f'[[package]]\nname = "c{i}"\nchecksum = "{gen.hex(64)}"\n' for i in range(10))),
        ("app/colors.py", "ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'\n"),
        ("src/messages.py", "ERR = 'Invalid password: it must be at least 12 characters long.'\n"),
        ("docs/security.md", "Never commit your `secret_key`; use `password_hash` and rotate the `api_key` yearly.\n"),
        ("src/hashing.py", f"EXPECTED_SHA256 = \"{gen.hex(64)}\"\nEMPTY_MD5 = 'd41d8cd98f00b204e9800998ecf8427e'\n"),
        (
            "terraform/main.tf",
            'resource "aws_db_instance" "db" {\n  password = var.db_password\n'
            "  manage_master_user_password = true\n}\n",
        ),
        (
            "src/urls.py",
            "GIT = 'https://github.com/acme/infra.git'\nSSH = 'git@github.com:acme/infra.git'\n"
            "API = 'https://user@api.acme-corp.io/v1'\n",
        ),
        ("Makefile", "test:\n\tpytest -q -u --password-file=.pw tests/\n\tmysql -u root -p < schema.sql\n"),
        ("ui/theme.css", f".a{{background:url(data:image/png;base64,{gen.b64(120)})}}\n"),
    ]
    for path, text in ids:
        yield Case(f"benign/ids/{path}", False, files={path: (None, text)})
    code_edit_old = "def total(items):\n    return sum(i.price for i in items)\n"
    yield Case(
        "benign/modified-code",
        False,
        files={
            "shop/cart.py": (
                code_edit_old,
                code_edit_old.replace("sum(", "round(sum(").replace("items)\n", "items), 2)\n"),
            )
        },
    )
    yield Case(
        "benign/task-prose",
        False,
        texts={
            "task": "Rotate the password reset token expiry to 30 minutes and "
            "make the API key page show the key's last four digits only."
        },
    )
    yield Case(
        "benign/context-env",
        False,
        texts={
            "task": "Fix CI",
            "context": "DEBUG=true\nPORT=8080\nLOG_LEVEL=info\nDATABASE_PASSWORD=${DATABASE_PASSWORD}\n",
        },
    )


def benign(seed: int = 11) -> list[Case]:
    gen = Gen(seed)
    return [case for case in rule_cases(gen) if not case.planted] + list(benign_cases(gen))
