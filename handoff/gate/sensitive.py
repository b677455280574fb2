"""Files that are secrets by what they are, not by a line inside them: by name (`.env`, private keys,
keystores, Terraform state, `credentials.json`) and, for binary files, by their first bytes (a keystore renamed
`data.bin` is still a keystore)."""

from __future__ import annotations

import fnmatch
import os

# Key files and keystores by name: PEM/DER keys, PKCS#12, Java/Bouncy Castle keystores, KeePass databases,
# PGP keyrings and encrypted files, PuTTY keys.
_KEY_FILE_EXTENSIONS = (".pem", ".key", ".p12", ".pfx", ".pkcs12", ".keystore", ".jks", ".jceks", ".bks",
                        ".kdbx", ".kdb", ".gpg", ".pgp", ".ppk")
_SSH_KEY_PREFIXES = ("id_rsa", "id_dsa", "id_ecdsa", "id_ed25519")
_ENV_TEMPLATES = frozenset({"example", "sample", "template", "dist"})


def is_sensitive_path(path: str) -> bool:
    """A file that is a secret by its name (`.npmrc`, `.pypirc`, `.netrc` only with credentials inside)."""
    name = os.path.basename(path).lower()
    if name == ".env":
        return True
    if name.startswith(".env."):
        return not _ENV_TEMPLATES.intersection(name.split(".")[2:])
    if name.endswith(_KEY_FILE_EXTENSIONS) or name.endswith(".tfstate") or ".tfstate." in name:
        return True
    if name.startswith(_SSH_KEY_PREFIXES):
        return not name.endswith(".pub")
    return name in {"credentials.json", ".git-credentials"} or fnmatch.fnmatchcase(name, "secrets.y*ml")


# Binary key material by its first bytes.
_MAGIC = ((b"\x03\xd9\xa2\x9a", "KeePass database"), (b"\xfe\xed\xfe\xed", "Java keystore"),
          (b"\xce\xce\xce\xce", "Java JCEKS keystore"), (b"PuTTY-User-Key-File", "PuTTY private key"),
          (b"openssh-key-v1", "OpenSSH private key"))


def binary_key_kind(head: bytes) -> str | None:
    """What kind of key or keystore a binary file's first bytes show; None when they show none."""
    for magic, kind in _MAGIC:
        if head.startswith(magic) or (kind.endswith("private key") and magic in head):
            return kind
    if len(head) > 7 and head[0] == 0x30 and head[1] in (0x80, 0x82, 0x83) and b"\x02\x01\x03" in head[2:8]:
        return "PKCS#12 keystore"   # DER SEQUENCE, then INTEGER 3: the PFX version
    return None
