#!/usr/bin/env bash
# Authentication errors from the driver's SCRAM domain (a SCRAM exchange the
# driver cannot complete, as when a server's reply is malformed) are
# "could not authenticate" with SQLSTATE HV00N, like a refused login, and
# mark the connection broken, so that the next use builds a new one.
#
# FerretDB 1.24 has no SCRAM, so a scripted wire-protocol server plays the
# part: it answers the handshake as a MongoDB 5.0 primary that supports
# SCRAM-SHA-256, and answers saslStart with a server-first message the
# driver's SCRAM code refuses (libmongoc 1.23: "invalid salt length", the
# error it also gives against FerretDB 2 for users it did not create).
source "$(dirname "$0")/lib/common.bash"

port=$(free_port)
timeout 120 python3 - "$port" <<'PY' &
import socket, struct, sys, threading

def cstr(s):
    return s.encode() + b"\0"

def doc(d):
    body = b""
    for k, v in d.items():
        if isinstance(v, bool):
            body += b"\x08" + cstr(k) + (b"\x01" if v else b"\x00")
        elif isinstance(v, int):
            body += b"\x10" + cstr(k) + struct.pack("<i", v)
        elif isinstance(v, float):
            body += b"\x01" + cstr(k) + struct.pack("<d", v)
        elif isinstance(v, str):
            b = v.encode() + b"\0"
            body += b"\x02" + cstr(k) + struct.pack("<i", len(b)) + b
        elif isinstance(v, bytes):
            body += b"\x05" + cstr(k) + struct.pack("<i", len(v)) + b"\x00" + v
        elif isinstance(v, list):
            body += b"\x04" + cstr(k) + doc({str(i): x for i, x in enumerate(v)})
    return struct.pack("<i", len(body) + 5) + body + b"\0"

def first_key(raw):
    end = raw.index(b"\0", 5)
    return raw[5:end].decode()

HELLO = {"ismaster": True, "isWritablePrimary": True, "helloOk": True,
         "maxBsonObjectSize": 16777216, "maxMessageSizeBytes": 48000000,
         "maxWriteBatchSize": 100000, "minWireVersion": 0, "maxWireVersion": 13,
         "saslSupportedMechs": ["SCRAM-SHA-256"], "ok": 1.0}

def reply(cmd):
    name = cmd.lower()
    if name in ("ismaster", "hello"):
        return HELLO
    if name == "saslstart":
        # a nonce that does not start with the client's
        return {"conversationId": 1, "done": False,
                "payload": b"r=notyournonce,s=c2FsdHNhbHRzYWx0c2FsdA==,i=4096",
                "ok": 1.0}
    return {"ok": 1.0}

def recvn(c, n):
    buf = b""
    while len(buf) < n:
        chunk = c.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf

def serve(c):
    try:
        while True:
            hdr = recvn(c, 16)
            length, reqid, _, opcode = struct.unpack("<iiii", hdr)
            body = recvn(c, length - 16)
            if opcode == 2004:          # OP_QUERY: the legacy handshake
                p = body.index(b"\0", 4) + 1 + 8
                out = doc(reply(first_key(body[p:])))
                msg = struct.pack("<iqii", 0, 0, 0, 1) + out
                op = 1
            elif opcode == 2013:        # OP_MSG, one body section
                out = doc(reply(first_key(body[5:])))
                msg = struct.pack("<i", 0) + b"\x00" + out
                op = 2013
            else:
                return
            c.sendall(struct.pack("<iiii", 16 + len(msg), reqid + 1000000, reqid, op) + msg)
    except (EOFError, OSError, ValueError):
        pass
    finally:
        c.close()

s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(64)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
fake=$!
trap 'kill $fake 2>/dev/null || true' EXIT
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done

make_server ng_scram "mongodb://127.0.0.1:$port/?connectTimeoutMS=2000&serverSelectionTimeoutMS=2000"
q -c "ALTER USER MAPPING FOR CURRENT_USER SERVER ng_scram OPTIONS (ADD username 'app', ADD password 'sekrit', ADD auth_mechanism 'SCRAM-SHA-256')"
q -c "CREATE FOREIGN TABLE IF NOT EXISTS ng_scram_t (_id int) SERVER ng_scram"

out=$(q -v VERBOSITY=verbose <<'SQL' 2>&1
\set ON_ERROR_STOP 0
SELECT * FROM ng_scram_t;
\set ON_ERROR_STOP 1
SELECT 'valid', valid FROM nutragenie_fdw.connections() WHERE server_name = 'ng_scram';
SQL
) || fail "session failed: $out"
grep -q 'HV00N' <<<"$out" || fail "SCRAM failure: expected SQLSTATE HV00N, got: $out"
grep -q 'could not authenticate to MongoDB server "ng_scram"' <<<"$out" ||
    fail "SCRAM failure: expected \"could not authenticate\", got: $out"
grep -q 'sekrit' <<<"$out" && fail "the password leaked into the message: $out"
grep -q '^valid|f$' <<<"$out" || fail "SCRAM failure: the connection is not marked broken: $out"
ok "a failed SCRAM exchange is HV00N \"could not authenticate\" and marks the connection broken"

q -c "DROP SERVER ng_scram CASCADE" >/dev/null
