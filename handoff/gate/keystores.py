"""Binary key material recognised by its first bytes, whatever the file is called (a keystore renamed
`data.bin` is still a keystore). Names are judged by `engine.is_sensitive_path`."""

from __future__ import annotations

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
