#!/usr/bin/env python3
"""A go-plugin host written with Python's grpcio (grpc C-core), for tests/tests/e2e/foreign_hosts.rs.

It launches a KV plugin the go-plugin way (magic cookie, PLUGIN_PROTOCOL_VERSIONS, with --tls a
certificate of its own in PLUGIN_CLIENT_CERT), parses the handshake line, then calls the health
service, proto.KV Put/Get (and a Get that fails), and plugin.GRPCController/Shutdown, and checks
that the plugin exited and left no socket. It prints one line `RESULT {json}` and exits 0, or
exits 1 with the reason (and the plugin's stderr).

grpc C-core sends a unix socket's path, percent-encoded, as `:authority` (`tmp%2Fplugin123`):
the case this host exists to check. --authority sends another value instead (with --tls grpc sends
`localhost`, the name the plugin's certificate is checked against, unless --authority is given).

Needs: pip install -r tests/python/requirements.txt (grpcio, grpcio-tools, protobuf, cryptography)
"""

import argparse
import base64
import datetime
import json
import os
import subprocess
import sys
import threading
import time

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
PROTO_DIRS = [
    os.path.join(ROOT, "examples", "kv", "proto"),
    os.path.join(ROOT, "plugin-runtime", "proto"),
    HERE,
]
HANDSHAKE_TIMEOUT = 30
EXIT_TIMEOUT = 10


def fail(message):
    raise SystemExit("foreign_host.py: " + message)


def load_protos():
    """The generated modules of the three services, compiled from the repo's .proto files."""
    sys.path[:0] = PROTO_DIRS
    kv = grpc.protos_and_services("kv.proto")
    controller = grpc.protos_and_services("plugin/grpc_controller.proto")
    health = grpc.protos_and_services("health.proto")
    return kv, controller, health


def host_certificate():
    """A certificate like go-plugin's AutoMTLS one: self-signed, SAN localhost, both EKUs."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "localhost"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "HashiCorp"),
        ]
    )
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(seconds=30))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert_pem, key_pem


def parse_handshake(line):
    """CORE|APP|NETWORK|ADDRESS|PROTOCOL|CERT, as go-plugin's host parses it."""
    parts = line.strip().split("|")
    if len(parts) < 4:
        fail(f"not a handshake line: {line!r}")
    core, app, network, address = parts[:4]
    protocol = parts[4] if len(parts) > 4 else "netrpc"
    cert = parts[5] if len(parts) > 5 else ""
    if core != "1":
        fail(f"core protocol {core}, expected 1 ({line!r})")
    if app != "1":
        fail(f"app protocol {app}, expected 1 ({line!r})")
    if protocol != "grpc":
        fail(f"protocol {protocol!r}, expected grpc ({line!r})")
    if network not in ("unix", "tcp"):
        fail(f"network {network!r} ({line!r})")
    return network, address, cert


def der_to_pem(raw_std_b64):
    """The plugin's certificate from handshake field 6: RawStd base64 of the DER."""
    der = base64.b64decode(raw_std_b64 + "=" * (-len(raw_std_b64) % 4), validate=True)
    cert = x509.load_der_x509_certificate(der)
    return cert.public_bytes(serialization.Encoding.PEM)


def drain(stream, sink):
    for chunk in iter(lambda: stream.read(4096), b""):
        sink.append(chunk)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--plugin", default=os.environ.get("KV_PLUGIN"), help="the plugin binary (default: $KV_PLUGIN)"
    )
    parser.add_argument("--tls", action="store_true", help="AutoMTLS")
    parser.add_argument(
        "--authority",
        help="send this :authority instead of grpc's own; `socket-path`: the plugin's address "
        "as it is (what grpc-java and .NET send)",
    )
    args = parser.parse_args()
    if not args.plugin:
        fail("no plugin: pass --plugin PATH or set KV_PLUGIN")

    (kv_pb2, kv_grpc), (ctl_pb2, ctl_grpc), (health_pb2, health_grpc) = load_protos()

    env = dict(os.environ, BASIC_PLUGIN="hello", PLUGIN_PROTOCOL_VERSIONS="1")
    env.pop("PLUGIN_CLIENT_CERT", None)
    cert_pem = key_pem = None
    if args.tls:
        cert_pem, key_pem = host_certificate()
        env["PLUGIN_CLIENT_CERT"] = cert_pem.decode()

    plugin = subprocess.Popen(
        [args.plugin],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    stderr = []
    threading.Thread(target=drain, args=(plugin.stderr, stderr), daemon=True).start()
    try:
        result = run(plugin, args, cert_pem, key_pem, kv_pb2, kv_grpc, ctl_pb2, ctl_grpc,
                     health_pb2, health_grpc)
    except BaseException:
        if plugin.poll() is None:
            plugin.kill()
            plugin.wait()
        sys.stderr.write("plugin stderr:\n" + b"".join(stderr).decode(errors="replace") + "\n")
        raise
    print("RESULT " + json.dumps(result), flush=True)


def run(plugin, args, cert_pem, key_pem, kv_pb2, kv_grpc, ctl_pb2, ctl_grpc, health_pb2,
        health_grpc):
    lines = []
    reader = threading.Thread(target=lambda: lines.append(plugin.stdout.readline()), daemon=True)
    reader.start()
    reader.join(HANDSHAKE_TIMEOUT)
    if not lines or not lines[0]:
        fail(f"no handshake line within {HANDSHAKE_TIMEOUT}s (plugin exit status {plugin.poll()})")
    # Keep reading stdout, as a go-plugin host does, so the plugin never blocks on it.
    threading.Thread(target=drain, args=(plugin.stdout, []), daemon=True).start()
    network, address, cert = parse_handshake(lines[0].decode())

    target = "unix:" + address if network == "unix" else "ipv4:" + address
    options = []
    authority = address if args.authority == "socket-path" else args.authority
    if authority is not None:
        options.append(("grpc.default_authority", authority))
    if args.tls:
        if len(cert) < 50:
            fail("AutoMTLS was asked for (PLUGIN_CLIENT_CERT) but the handshake has no certificate")
        creds = grpc.ssl_channel_credentials(
            root_certificates=der_to_pem(cert),
            private_key=key_pem,
            certificate_chain=cert_pem,
        )
        # The plugin's certificate names localhost, as go-plugin's do.
        options.append(("grpc.ssl_target_name_override", "localhost"))
        channel = grpc.secure_channel(target, creds, options=options)
    else:
        if cert:
            fail("the plugin sent a certificate although the host asked for no TLS")
        channel = grpc.insecure_channel(target, options=options)

    calls = []
    with channel:
        health = health_grpc.HealthStub(channel)
        status = health.Check(health_pb2.HealthCheckRequest(service="plugin"), timeout=10).status
        if status != health_pb2.HealthCheckResponse.SERVING:
            fail(f"health: status {status}, expected SERVING")
        calls.append("health")

        kv = kv_grpc.KVStub(channel)
        kv.Put(kv_pb2.PutRequest(key="greeting", value=b"hello from python"), timeout=10)
        calls.append("put")
        value = kv.Get(kv_pb2.GetRequest(key="greeting"), timeout=10).value
        if value != b"hello from python":
            fail(f"get returned {value!r}")
        calls.append("get")
        try:
            kv.Get(kv_pb2.GetRequest(key="missing"), timeout=10)
            fail("a Get of a missing key succeeded")
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.NOT_FOUND:
                fail(f"a Get of a missing key failed with {e.code()}: {e.details()}, expected NOT_FOUND")
        calls.append("get-missing")

        ctl_grpc.GRPCControllerStub(channel).Shutdown(ctl_pb2.Empty(), timeout=10)
        calls.append("shutdown")

    try:
        code = plugin.wait(EXIT_TIMEOUT)
    except subprocess.TimeoutExpired:
        fail(f"the plugin did not exit within {EXIT_TIMEOUT}s of Shutdown")
    if network == "unix":
        deadline = time.monotonic() + EXIT_TIMEOUT
        while os.path.exists(address) and time.monotonic() < deadline:
            time.sleep(0.02)
        if os.path.exists(address):
            fail(f"the plugin exited but left its socket {address}")
    return {
        "pid": plugin.pid,
        "network": network,
        "address": address,
        "tls": args.tls,
        "authority": authority,
        "exit": code,
        "calls": calls,
    }


if __name__ == "__main__":
    main()
