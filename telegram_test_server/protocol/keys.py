"""The test server's RSA key (test-only, not a secret) and its registration with Telethon.

Telethon only encrypts the handshake (req_DH_params) with RSA keys it knows by fingerprint, so every
client process that creates a NEW auth key against this server must call `register_with_telethon()`
first. Sessions that already hold an auth key never handshake and need nothing.
"""
from __future__ import annotations

import functools
import struct
from hashlib import sha1

import rsa
from telethon.crypto import rsa as telethon_rsa
from telethon.tl.tlobject import TLObject

# Generated once with `rsa.newkeys(2048)` for this repository; it protects nothing but local tests.
_PRIVATE_PEM = b"""\
-----BEGIN RSA PRIVATE KEY-----
MIIEqQIBAAKCAQEAjDW0d2jiMprGcX5p6rs4BCn6WKuUoPDY5yLSpevQ6Dy60uzQ
BfhIh5QZYZowb+Pkq5KIE+GnzdrocK7y8/Fau8e/HiGM1U8+Nnaxe2mxb+6CMkvp
BDnu+eTpedJQryTaQPfBLKHW5gHDkEgFom85TMvGF18cW3uP3P216xbDd3K5TOGM
29QnFUnA5kqsRPb45XhXMze9j07G9P24ku9eCeQzm3Wohmp5Ztwu5wR5ZzXe6HDr
ifZaJvPQnDDAqGtaU17IyX/vGwKTmWffHuYM55EHSeRGzpwIQoJwWz4L+J1rfoS7
iIsaWrXFVeYrSVdlckEtI2EVmgl7XEQvmg06gwIDAQABAoIBADSOdQVFpXR+m+Az
GJTKdObqrVLLjjz9yvBpFzjmujozeXxTFG8IcHeRxinV2E44yKCfnq6FKZd6dSK4
EY3rbK1y5Grw/I+A0rsrpr+yELb6Wodr+P6CkNfPPM1TTrc4Qy+TLzABwkIZaysM
NEB9HKdywuBD4KdSG3rBdoKkmebJXj/bdnAmEkQTu4hbyLOMjsNllwcfTbK4/W7U
RFrf21IyxGrARQKWkvN8YwBZMgs7Q5iWcJE67ouUEgKpAVrlKUgdgbm7hiTeE7L5
EM4ihpPJKQYNt85bBdJxwqv4jlGawRSmhmkWGci+PMzD7Cd0gakaiMZMCjaBZRLe
UA2JdqECgYkA28sSmctU0uOHnxriCxJhyl62oFUFdS+dnyMzcZQnhp5nwSgk5E/n
eU46t6uCNe4BiQhtzkoAyr3wbY4wZ06NrnPHSqLwWNGHGqsMHrGoCmj0R5gOJrYT
SELq+gXB5JmtKt2Wgc0VNX0LvDQgRtsL1EWmk8aA5jt5tk17KqtLz/USmaEBiwXm
uwJ5AKNOgihpRdBLX3bQzG5+UNC3fYNioSLTuiS7dAICGm1Hg0wW/7dXPS/aGSh0
ptw9MuHPRDm3gp3DKPVT7JchplNL0PsGD9mOuKwenN86shT8jzfA141+S3u3cl6p
5D+gfg8wi/gZJaPBk0RFWy3fmuXfs6iW1QKS2QKBiEX+BzBepeZ6eofaQb2Q3v9Y
5gNsz84fmaxBw3IZ4fRmoVfLduQV5fqlROGUhmSyJF8FBiK5QkNN9TCOJS/gvhGd
4QsNlEhUgRem/LcRkBewkIn0DB2bwcwzMyznhHVN0u1hnzo6mtRru771QooN21h/
zaolforSydGaHuzZm8zfmErAEQO6n10CeC3B4rBmBty9Mct957oSBJzmvPFiYln6
z05Zg8DITBVQk1Zvn0kE1a0hxCjUvqg5MZeZ1rkBVUTVGRXcZQ9Xq13tgWnEog5I
cjAwB654qMs+lPZ/PyZzO703goFJwx2c35Vr+dwTV7uRkqzvbgPlgmZkjtdvI9Ir
yQKBiQDG2mLRBho5b9z7yZu3pU/XVKL+S6YwEExu2b1l229wL5FQgFHcgTyKK4JD
4izTAhFh5t9TMGK4b6brLVAktVH/wDfDeEpmGAU+xRqOHtSP6yZuJGhAr+VkSU/F
oISlNQ1DeHhJZWupSlK2Od1bq99sSrqJfHGCi/59/fSXRrAzwa3TgSzpZRCU
-----END RSA PRIVATE KEY-----
"""


@functools.cache
def private_key() -> rsa.PrivateKey:
    """The server's RSA private key."""
    return rsa.PrivateKey.load_pkcs1(_PRIVATE_PEM)


def public_pem() -> bytes:
    """The public key in PKCS#1 PEM form, as `telethon.crypto.rsa.add_key` expects it."""
    key = private_key()
    return rsa.PublicKey(key.n, key.e).save_pkcs1()


@functools.cache
def fingerprint() -> int:
    """Telegram's key fingerprint: low 64 bits of sha1(n as TL bytes + e as TL bytes), signed."""
    key = private_key()
    n = TLObject.serialize_bytes(telethon_rsa.get_byte_array(key.n))
    e = TLObject.serialize_bytes(telethon_rsa.get_byte_array(key.e))
    return struct.unpack("<q", sha1(n + e).digest()[-8:])[0]


def decrypt_block(block: bytes) -> bytes:
    """Raw RSA (no padding) of one 256-byte block, as Telegram's req_DH_params uses it: 255 bytes out."""
    key = private_key()
    value = pow(int.from_bytes(block, "big"), key.d, key.n)
    return value.to_bytes(256, "big")[1:]


def register_with_telethon() -> None:
    """Make Telethon in this process accept the test server's key (idempotent)."""
    if fingerprint() not in telethon_rsa._server_keys:
        telethon_rsa.add_key(public_pem().decode(), old=False)
