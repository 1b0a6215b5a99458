#!/usr/bin/env node
// A go-plugin host written with @grpc/grpc-js, for tests/tests/e2e/foreign_hosts.rs.
//
// It launches a KV plugin the go-plugin way (magic cookie, PLUGIN_PROTOCOL_VERSIONS, with --tls
// a certificate of its own in PLUGIN_CLIENT_CERT), parses the handshake line, then calls the
// health service, proto.KV Put/Get (and a Get that fails), and plugin.GRPCController/Shutdown,
// and checks that the plugin exited and left no socket. It prints one line `RESULT {json}` and
// exits 0, or exits 1 with the reason (and the plugin's stderr).
//
// --authority VALUE sends that `:authority`; `socket-path` sends the plugin's address as it is,
// as grpc-java and .NET do for unix sockets.
//
// Needs: npm ci --prefix tests/node (the health proto is shared with tests/python).
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');
const { webcrypto } = require('node:crypto');

// @peculiar/x509's dependency injection (tsyringe) needs the Reflect metadata API first.
require('reflect-metadata');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const x509 = require('@peculiar/x509');

const ROOT = path.resolve(__dirname, '..', '..');
const PROTO_DIRS = [
  path.join(ROOT, 'examples', 'kv', 'proto'),
  path.join(ROOT, 'plugin-runtime', 'proto'),
  path.join(ROOT, 'tests', 'python'),
];
const HANDSHAKE_TIMEOUT_MS = 30_000;
const CALL_TIMEOUT_MS = 10_000;
const EXIT_TIMEOUT_MS = 10_000;

class HostError extends Error {}

function fail(message) {
  throw new HostError(`foreign_host.js: ${message}`);
}

function parseArgs(argv) {
  const args = { plugin: process.env.KV_PLUGIN || null, tls: false, authority: null };
  for (let i = 0; i < argv.length; i++) {
    switch (argv[i]) {
      case '--plugin': args.plugin = argv[++i]; break;
      case '--tls': args.tls = true; break;
      case '--authority': args.authority = argv[++i]; break;
      default: fail(`unknown argument ${argv[i]} (use [--plugin PATH] [--tls] [--authority VALUE])`);
    }
  }
  if (!args.plugin) fail('no plugin: pass --plugin PATH or set KV_PLUGIN');
  return args;
}

function pem(label, der) {
  const b64 = Buffer.from(der).toString('base64').match(/.{1,64}/g).join('\n');
  return Buffer.from(`-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`);
}

/** A certificate like go-plugin's AutoMTLS one: self-signed, SAN localhost, both EKUs. */
async function hostCertificate() {
  x509.cryptoProvider.set(webcrypto);
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString('hex').replace(/^[89a-f]/, '1'),
    name: 'CN=localhost, O=HashiCorp',
    notBefore: new Date(now - 30_000),
    notAfter: new Date(now + 24 * 3600_000),
    signingAlgorithm: alg,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment |
          x509.KeyUsageFlags.keyAgreement | x509.KeyUsageFlags.keyCertSign,
        true,
      ),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth, x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'localhost' }]),
    ],
  });
  const key = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { certPem: Buffer.from(cert.toString('pem') + '\n'), keyPem: pem('PRIVATE KEY', key) };
}

/** CORE|APP|NETWORK|ADDRESS|PROTOCOL|CERT, as go-plugin's host parses it. */
function parseHandshake(line) {
  const parts = line.trim().split('|');
  if (parts.length < 4) fail(`not a handshake line: ${JSON.stringify(line)}`);
  const [core, app, network, address] = parts;
  const protocol = parts.length > 4 ? parts[4] : 'netrpc';
  const cert = parts.length > 5 ? parts[5] : '';
  if (core !== '1') fail(`core protocol ${core}, expected 1 (${line})`);
  if (app !== '1') fail(`app protocol ${app}, expected 1 (${line})`);
  if (protocol !== 'grpc') fail(`protocol ${protocol}, expected grpc (${line})`);
  if (network !== 'unix' && network !== 'tcp') fail(`network ${network} (${line})`);
  return { network, address, cert };
}

function firstLine(stream, child) {
  return new Promise((resolve, reject) => {
    const lines = readline.createInterface({ input: stream });
    const timer = setTimeout(() => reject(new HostError(
      `foreign_host.js: no handshake line within ${HANDSHAKE_TIMEOUT_MS} ms`)), HANDSHAKE_TIMEOUT_MS);
    lines.once('line', (line) => { clearTimeout(timer); resolve(line); });
    child.once('exit', (code) => { clearTimeout(timer); reject(new HostError(
      `foreign_host.js: the plugin exited (status ${code}) before its handshake`)); });
  });
}

function call(client, method, request) {
  return new Promise((resolve, reject) => {
    client[method](request, { deadline: Date.now() + CALL_TIMEOUT_MS }, (err, reply) =>
      (err ? reject(err) : resolve(reply)));
  });
}

function exited(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new HostError(
      `foreign_host.js: the plugin did not exit within ${EXIT_TIMEOUT_MS} ms of Shutdown`)), EXIT_TIMEOUT_MS);
    child.once('exit', (code) => { clearTimeout(timer); resolve(code); });
  });
}

async function run(child, args, tls) {
  const { network, address, cert } = parseHandshake(await firstLine(child.stdout, child));
  // Keep reading stdout, as a go-plugin host does, so the plugin never blocks on it.
  child.stdout.resume();

  const definition = protoLoader.loadSync(
    ['kv.proto', 'plugin/grpc_controller.proto', 'health.proto'],
    { includeDirs: PROTO_DIRS, keepCase: true, enums: String, defaults: true },
  );
  const proto = grpc.loadPackageDefinition(definition);

  const target = network === 'unix' ? `unix:${address}` : `ipv4:${address}`;
  const authority = args.authority === 'socket-path' ? address : args.authority;
  const options = {};
  if (authority !== null) options['grpc.default_authority'] = authority;
  let creds;
  if (tls) {
    if (cert.length < 50) fail('AutoMTLS was asked for (PLUGIN_CLIENT_CERT) but the handshake has no certificate');
    // Handshake field 6: RawStd base64 (no padding) of the DER.
    const pluginPem = pem('CERTIFICATE', Buffer.from(cert, 'base64'));
    creds = grpc.credentials.createSsl(pluginPem, tls.keyPem, tls.certPem);
    // The plugin's certificate names localhost, as go-plugin's do.
    options['grpc.ssl_target_name_override'] = 'localhost';
  } else {
    if (cert) fail('the plugin sent a certificate although the host asked for no TLS');
    creds = grpc.credentials.createInsecure();
  }
  const channel = new grpc.Channel(target, creds, options);
  const client = (Service) => new Service(target, creds, { ...options, channelOverride: channel });

  const calls = [];
  const health = client(proto.grpc.health.v1.Health);
  const status = (await call(health, 'Check', { service: 'plugin' })).status;
  if (status !== 'SERVING') fail(`health: status ${status}, expected SERVING`);
  calls.push('health');

  const kv = client(proto.proto.KV);
  await call(kv, 'Put', { key: 'greeting', value: Buffer.from('hello from node') });
  calls.push('put');
  const value = (await call(kv, 'Get', { key: 'greeting' })).value;
  if (!Buffer.from(value).equals(Buffer.from('hello from node'))) fail(`get returned ${JSON.stringify(String(value))}`);
  calls.push('get');
  try {
    await call(kv, 'Get', { key: 'missing' });
    fail('a Get of a missing key succeeded');
  } catch (e) {
    if (e instanceof HostError) throw e;
    if (e.code !== grpc.status.NOT_FOUND) fail(`a Get of a missing key failed with ${e.code}: ${e.details}, expected NOT_FOUND`);
  }
  calls.push('get-missing');

  await call(client(proto.plugin.GRPCController), 'Shutdown', {});
  calls.push('shutdown');
  channel.close();

  const code = await exited(child);
  if (network === 'unix') {
    const deadline = Date.now() + EXIT_TIMEOUT_MS;
    while (fs.existsSync(address) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    if (fs.existsSync(address)) fail(`the plugin exited but left its socket ${address}`);
  }
  return { pid: child.pid, network, address, tls: Boolean(tls), authority, exit: code, calls };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const env = { ...process.env, BASIC_PLUGIN: 'hello', PLUGIN_PROTOCOL_VERSIONS: '1' };
  delete env.PLUGIN_CLIENT_CERT;
  const tls = args.tls ? await hostCertificate() : null;
  if (tls) env.PLUGIN_CLIENT_CERT = tls.certPem.toString();

  const child = spawn(args.plugin, [], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr = [];
  child.stderr.on('data', (chunk) => stderr.push(chunk));
  child.on('error', (e) => stderr.push(Buffer.from(`spawning the plugin: ${e.message}\n`)));
  try {
    const result = await run(child, args, tls);
    process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
  } catch (e) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    process.stderr.write(`${e instanceof HostError ? e.message : e.stack}\nplugin stderr:\n${Buffer.concat(stderr)}\n`);
    process.exitCode = 1;
  }
}

main();
