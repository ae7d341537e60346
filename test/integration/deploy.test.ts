/**
 * deploy/ is checked, not just shipped:
 * - the systemd unit: `systemd-analyze verify` (ExecStart pointed at this checkout), also with its LoadCredential=
 *   lines switched on, plus a structural read: reload by SIGHUP, stop by SIGTERM after the drain, restart on a crash
 *   but not on exit 1 (bad config);
 * - the Dockerfile, line by line (no docker engine runs here): every COPY source exists, no file capability, the
 *   ENTRYPOINT's program and the CMD's config exist once the COPY lines are followed back to this checkout, that
 *   config passes `check`, and EXPOSE is the port it listens on;
 * - the Kubernetes example: every object validated against the Kubernetes schemas (kubernetes-models: the API's
 *   OpenAPI schemas compiled with ajv), fitted together, rendered by `kubectl kustomize` where kubectl exists, and
 *   its ConfigMap's config passes `check`;
 * - image and pod together: the image's entry point with the image's default config, run in a network namespace
 *   with the pod's sysctls, as the pod's user with the pod's capability set (setpriv), must start and listen on
 *   443. A node binary with a file capability, under that same set, cannot even be executed: the crash-loop an
 *   image with `setcap` would have in a pod that drops ALL.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Service } from 'kubernetes-models/v1/Service';
import { parse, parseAllDocuments } from 'yaml';
import { CLI } from '../helpers/cli-process.js';
import { readableByAll } from '../helpers/readable-tree.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DEPLOY = path.join(ROOT, 'deploy');
const read = (file: string): string => readFileSync(path.join(DEPLOY, file), 'utf8');
const VERSION = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

function hasCommand(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;
}
const isRoot = process.getuid?.() === 0;

/** A systemd unit as section → key → values (keys may repeat). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[(\w+)\]$/.exec(line);
    if (section) {
      current = new Map();
      sections.set(section[1]!, current);
      continue;
    }
    const pair = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (!pair || !current) throw new Error(`not a unit-file line: ${line}`);
    current.set(pair[1]!, [...(current.get(pair[1]!) ?? []), pair[2]!]);
  }
  return sections;
}

/** `systemd-analyze verify` on `text`, ExecStart pointed at this machine's node and this checkout. */
function verifyUnit(text: string): { status: number | null; complaints: string[] } {
  const dir = mkdtempSync(path.join(tmpdir(), 'sni-router-unit-'));
  try {
    const unit = path.join(dir, 'sni-router.service');
    // verify checks that ExecStart's program exists.
    writeFileSync(unit, text.replace('/usr/bin/node /opt/sni-router/dist/cli.js', `${process.execPath} ${CLI}`));
    const result = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
    return { status: result.status, complaints: result.stderr.split('\n').filter((line) => line.includes('sni-router.service')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('deploy/sni-router.service', () => {
  const text = read('sni-router.service');
  const service = parseUnit(text).get('Service')!;

  it('reloads with SIGHUP, stops with SIGTERM after the drain, binds 443 without root', () => {
    const unit = parseUnit(text);
    expect([...unit.keys()]).toEqual(['Unit', 'Service', 'Install']);
    expect(service.get('ExecReload')).toEqual(['/bin/kill -HUP $MAINPID']);
    expect(service.get('ExecStart')?.[0]).toMatch(/dist\/cli\.js --config \/etc\/sni-router\/config\.yaml$/);
    expect(service.get('KillSignal')).toEqual(['SIGTERM']);
    expect(Number.parseInt(service.get('TimeoutStopSec')?.[0] ?? '0', 10)).toBeGreaterThan(30); // default shutdown_grace 30s
    expect(service.get('AmbientCapabilities')).toEqual(['CAP_NET_BIND_SERVICE']);
    expect(service.get('DynamicUser')).toEqual(['yes']);
    expect(unit.get('Install')!.get('WantedBy')).toEqual(['multi-user.target']);
  });

  it('restarts a crash (exit 70, a signal) and a failed listen (2), never a bad config (1)', () => {
    expect(service.get('Restart')).toEqual(['on-failure']);
    // Only 1 is held back: were 70 listed, an uncaught exception would leave the service down for good.
    expect(service.get('RestartPreventExitStatus')).toEqual(['1']);
  });

  it('has LoadCredential= lines for keys, with the reason (DynamicUser cannot read root-only /etc/letsencrypt)', () => {
    const credentials = text.split('\n').filter((line) => /^#?LoadCredential=/.test(line));
    expect(credentials).toEqual([
      '#LoadCredential=example.com.pem:/etc/letsencrypt/live/example.com/fullchain.pem',
      '#LoadCredential=example.com.key:/etc/letsencrypt/live/example.com/privkey.pem',
    ]);
    expect(text).toMatch(/DynamicUser= runs the router as a fresh unprivileged user, which cannot read\n# root-only keys/);
    expect(text).toContain('/run/credentials/sni-router.service/example.com.key');
  });

  it.skipIf(!hasCommand('systemd-analyze'))('passes systemd-analyze verify, also with LoadCredential= switched on', () => {
    expect(verifyUnit(text)).toEqual({ status: 0, complaints: [] });
    const withCredentials = text
      .replace('#LoadCredential=example.com.pem:/etc/letsencrypt/live/example.com/fullchain.pem', `LoadCredential=example.com.pem:${ROOT}/fixtures/certs/alpha.test.pem`)
      .replace('#LoadCredential=example.com.key:/etc/letsencrypt/live/example.com/privkey.pem', `LoadCredential=example.com.key:${ROOT}/fixtures/certs/alpha.test.key`);
    expect(withCredentials).not.toBe(text);
    expect(verifyUnit(withCredentials)).toEqual({ status: 0, complaints: [] });
  });

  it.skipIf(!hasCommand('systemd-analyze'))('negative control: verify does complain about a misspelt key', () => {
    const result = verifyUnit(text.replace('RestartPreventExitStatus=1', 'RestartPreventExitStatuss=1'));
    expect(result.complaints.join('\n')).toMatch(/RestartPreventExitStatuss/);
  });
});

/** The Dockerfile as stages of [instruction, arguments]. */
function parseDockerfile(text: string): Array<{ from: string; alias: string | null; lines: Array<[string, string]> }> {
  const stages: Array<{ from: string; alias: string | null; lines: Array<[string, string]> }> = [];
  const joined = text.replace(/\\\n/g, ' ');
  for (const raw of joined.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([A-Z]+)\s+(.*)$/.exec(line);
    if (!match) throw new Error(`not a Dockerfile instruction: ${line}`);
    const [, instruction, args] = match as unknown as [string, string, string];
    if (instruction === 'FROM') {
      const from = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args)!;
      stages.push({ from: from[1]!, alias: from[2] ?? null, lines: [] });
    } else stages.at(-1)!.lines.push([instruction, args]);
  }
  return stages;
}

describe('deploy/Dockerfile', () => {
  const stages = parseDockerfile(read('Dockerfile'));
  const final = stages.at(-1)!;
  const all = stages.flatMap((stage) => stage.lines);
  const args = (instruction: string): string[] => final.lines.filter(([name]) => name === instruction).map(([, value]) => value);
  const entrypoint = JSON.parse(args('ENTRYPOINT')[0]!) as string[];
  const cmd = JSON.parse(args('CMD')[0]!) as string[];

  /**
   * Where a path of the final image comes from in this checkout, following its COPY lines: a plain COPY copies
   * from the checkout; `--from=<stage>` from that stage's WORKDIR, into which the stage copied the checkout (and
   * built dist/ there, as `npm run build` does here).
   */
  function hostPathOf(imagePath: string): string | null {
    let workdir = '/';
    let found: string | null = null;
    for (const [instruction, value] of final.lines) {
      if (instruction === 'WORKDIR') workdir = path.posix.resolve(workdir, value);
      if (instruction !== 'COPY') continue;
      const words = value.split(/\s+/);
      const fromStage = words.find((word) => word.startsWith('--from='))?.slice('--from='.length);
      const [source, destination] = words.filter((word) => !word.startsWith('--')) as [string, string];
      const target = path.posix.resolve(workdir, destination.endsWith('/') ? path.posix.join(destination, path.posix.basename(source)) : destination);
      if (imagePath !== target && !imagePath.startsWith(`${target}/`)) continue;
      const rest = imagePath.slice(target.length);
      if (fromStage === undefined) found = path.join(ROOT, source, rest);
      else {
        const stage = stages.find((candidate) => candidate.alias === fromStage)!;
        const stageWorkdir = stage.lines.filter(([name]) => name === 'WORKDIR').map(([, dir]) => dir).at(-1) ?? '/';
        found = path.join(ROOT, path.posix.relative(stageWorkdir, source), rest);
      }
    }
    return found;
  }
  const imageConfig = cmd[cmd.indexOf('--config') + 1]!;
  const hostConfig = hostPathOf(imageConfig);

  it('runs as a non-root user on node 20, without any file capability', () => {
    expect(stages.map((stage) => stage.from)).toEqual(['node:20-bookworm-slim', 'node:20-bookworm-slim']);
    expect(args('USER')).toEqual(['node']);
    // A file capability on node makes exec fail in a pod that drops ALL capabilities (see the setpriv test).
    for (const [instruction, value] of all) expect(`${instruction} ${value}`).not.toMatch(/setcap|cap_net_bind_service/i);
    expect(args('STOPSIGNAL')).toEqual(['SIGTERM']);
  });

  it('copies only files that exist in the repository', () => {
    const sources = all
      .filter(([instruction, value]) => instruction === 'COPY' && !value.includes('--from='))
      .flatMap(([, value]) => value.split(/\s+/).slice(0, -1));
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) expect(existsSync(path.join(ROOT, source)), source).toBe(true);
  });

  it("the ENTRYPOINT's program is the built CLI, and the CMD's config is deploy/config.yaml", () => {
    expect(entrypoint).toEqual(['node', '/opt/sni-router/dist/cli.js']);
    expect(hostPathOf(entrypoint[1]!)).toBe(CLI);
    expect(existsSync(CLI)).toBe(true);
    expect(cmd).toEqual(['--config', '/etc/sni-router/config.yaml']);
    expect(hostConfig).toBe(path.join(DEPLOY, 'config.yaml'));
  });

  it('the image default config passes check, needs no certificate file, and listens where EXPOSE says', () => {
    const output = execFileSync(process.execPath, [CLI, 'check', '--config', hostConfig!], { encoding: 'utf8' });
    expect(output).toContain('is valid');
    const config = parse(readFileSync(hostConfig!, 'utf8')) as { listen: string[]; routes: Record<string, unknown> };
    expect(JSON.stringify(config.routes)).not.toContain('terminate');
    const ports = config.listen.map((address) => Number(/:(\d+)$/.exec(address)![1]));
    expect(args('EXPOSE').flatMap((value) => value.split(/\s+/)).map((port) => Number.parseInt(port, 10))).toEqual(ports);
    expect(ports).toEqual([443]);
  });
});

describe('deploy/kubernetes', () => {
  const documents = parseAllDocuments(read('kubernetes/sni-router.yaml')).map((document) => {
    expect(document.errors).toEqual([]);
    return document.toJS() as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  });
  const byKind = (kind: string) => documents.find((document) => document.kind === kind)!;
  const pod = byKind('Deployment').spec.template.spec;
  const container = pod.containers[0];

  /** kubernetes-models' class per kind used here; `validate()` runs the API's schema for it (ajv) and throws. */
  const MODELS: Record<string, new (data: never) => { validate(): void }> = {
    'v1 ConfigMap': ConfigMap,
    'apps/v1 Deployment': Deployment,
    'v1 Service': Service,
  };
  async function validateObject(object: Record<string, unknown>): Promise<void> {
    const Model = MODELS[`${String(object.apiVersion)} ${String(object.kind)}`];
    if (Model === undefined) throw new Error(`no schema here for ${String(object.apiVersion)} ${String(object.kind)}: add its class`);
    new Model(object as never).validate();
  }

  it('every object passes the Kubernetes schema for its kind', async () => {
    for (const document of documents) await expect(validateObject(document), `${document.kind}`).resolves.toBeUndefined();
  });

  it('negative control: the schemas reject a wrong type and a missing required field', async () => {
    const deployment = structuredClone(byKind('Deployment'));
    deployment.spec.template.spec.containers[0].ports[0].containerPort = '443';
    await expect(validateObject(deployment)).rejects.toThrow(/containerPort must be integer/);
    const service = structuredClone(byKind('Service'));
    delete service.spec.ports[0].port;
    await expect(validateObject(service)).rejects.toThrow(/ports\/0 must have required property/);
  });

  it('has a ConfigMap, a Deployment and a Service that fit together', () => {
    expect(documents.map((document) => `${String(document.apiVersion)} ${String(document.kind)}`)).toEqual(['v1 ConfigMap', 'apps/v1 Deployment', 'v1 Service']);
    const deployment = byKind('Deployment');
    expect(deployment.spec.selector.matchLabels).toEqual(deployment.spec.template.metadata.labels);
    expect(byKind('Service').spec.selector).toEqual(deployment.spec.template.metadata.labels);
    // The config arrives as a ConfigMap volume (so updates are symlink swaps the router watches for).
    expect(pod.volumes).toEqual([{ name: 'config', configMap: { name: byKind('ConfigMap').metadata.name } }]);
    expect(container.volumeMounts).toEqual([{ name: 'config', mountPath: '/etc/sni-router', readOnly: true }]);
    expect(container.args).toEqual(['--config', '/etc/sni-router/config.yaml']);
    // Ports: 443 for TLS through the Service; the admin port only for probes and scraping.
    expect(container.ports).toEqual([
      { name: 'tls', containerPort: 443, protocol: 'TCP' },
      { name: 'admin', containerPort: 9901, protocol: 'TCP' },
    ]);
    expect(byKind('Service').spec.ports).toEqual([{ name: 'tls', port: 443, targetPort: 'tls', protocol: 'TCP' }]);
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'admin' });
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'admin' });
    // Non-root, nothing to escalate, no capability at all, and 443 through the namespaced sysctl instead.
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000 });
    expect(pod.securityContext.sysctls).toEqual([{ name: 'net.ipv4.ip_unprivileged_port_start', value: '0' }]);
    expect(container.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    // Drain time: the pod's grace outlasts shutdown_grace.
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(30);
  });

  it("the pod runs the image as built: the Dockerfile's CMD, its port, its user's uid", () => {
    const dockerfile = parseDockerfile(read('Dockerfile')).at(-1)!.lines;
    const cmd = JSON.parse(dockerfile.find(([name]) => name === 'CMD')![1]) as string[];
    expect(container.args).toEqual(cmd);
    expect(dockerfile.find(([name]) => name === 'EXPOSE')![1]).toBe(String(container.ports[0].containerPort));
    expect(path.posix.dirname(cmd[1]!)).toBe(container.volumeMounts[0].mountPath);
    // The node image's `node` user is uid 1000.
    expect(dockerfile.find(([name]) => name === 'USER')![1]).toBe('node');
    expect(container.image).toBe('sni-router:latest');
  });

  it("the ConfigMap's config passes sni-router check", () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sni-router-k8s-'));
    try {
      const file = path.join(dir, 'config.yaml');
      writeFileSync(file, byKind('ConfigMap').data['config.yaml']);
      const output = execFileSync(process.execPath, [CLI, 'check', '-c', file], { encoding: 'utf8' });
      expect(output).toContain('admin            0.0.0.0:9901 (non-loopback allowed)');
      expect(output).toContain('shutdown_grace   30s');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const kustomization = parse(read('kubernetes/kustomization.yaml')) as { apiVersion: string; kind: string; resources: string[]; images: Array<{ name: string; newTag: string }> };

  it('kustomization.yaml (no Helm) lists files that exist and tags the image with the package version', () => {
    expect(Object.keys(kustomization).sort()).toEqual(['apiVersion', 'images', 'kind', 'resources']);
    expect([kustomization.apiVersion, kustomization.kind]).toEqual(['kustomize.config.k8s.io/v1beta1', 'Kustomization']);
    for (const resource of kustomization.resources) expect(existsSync(path.join(DEPLOY, 'kubernetes', resource)), resource).toBe(true);
    expect(kustomization.images).toEqual([{ name: container.image.split(':')[0], newTag: VERSION }]);
  });

  it.skipIf(!hasCommand('kubectl'))('kubectl kustomize renders objects that pass the schemas, with the tagged image', async () => {
    const rendered = execFileSync('kubectl', ['kustomize', path.join(DEPLOY, 'kubernetes')], { encoding: 'utf8', timeout: 30_000 });
    const objects = parseAllDocuments(rendered).map((document) => document.toJS() as Record<string, any>); // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(objects.map((object) => object.kind).sort()).toEqual(['ConfigMap', 'Deployment', 'Service']);
    for (const object of objects) await validateObject(object);
    expect(objects.find((object) => object.kind === 'Deployment')!.spec.template.spec.containers[0].image).toBe(`sni-router:${VERSION}`);
  });
});

/**
 * The pod's security context as setpriv arguments: its user and group, no supplementary groups, every capability
 * out of the bounding and inheritable sets when it drops ALL, and no_new_privs for allowPrivilegeEscalation false.
 */
function podSetprivArgs(pod: any, container: any): string[] { // eslint-disable-line @typescript-eslint/no-explicit-any
  const context = { ...pod.securityContext, ...container.securityContext };
  const args = ['--reuid', String(context.runAsUser), '--regid', String(context.runAsGroup), '--clear-groups'];
  expect(context.capabilities).toEqual({ drop: ['ALL'] }); // an `add` would need ambient capabilities too
  args.push('--inh-caps', '-all', '--bounding-set', '-all');
  if (context.allowPrivilegeEscalation === false) args.push('--no-new-privs');
  return args;
}

const canRunPod = isRoot && ['unshare', 'setpriv', 'setcap'].every(hasCommand);

describe('the image entry point under the pod capability set', () => {
  // unshare --net and setpriv --reuid need root; without them there is no way to become the pod's user here.
  const documents = parseAllDocuments(read('kubernetes/sni-router.yaml')).map((document) => document.toJS() as Record<string, any>); // eslint-disable-line @typescript-eslint/no-explicit-any
  const pod = documents.find((document) => document.kind === 'Deployment')!.spec.template.spec;
  const container = pod.containers[0];
  const final = parseDockerfile(read('Dockerfile')).at(-1)!.lines;
  const cmd = JSON.parse(final.find(([name]) => name === 'CMD')![1]) as string[];
  const setcapLine = final.find(([name, value]) => name === 'RUN' && value.includes('setcap'));

  /**
   * Runs `node <cli> <cmd with the image's config>` as the pod would: in a fresh network namespace with the pod's
   * sysctls written, then setpriv to the pod's user and capability set. The node binary gets the Dockerfile's
   * `setcap`, if it has one, on a private copy. Resolves with the exit code, stdout and stderr; `onListening`
   * runs once the router logs that it listens on 443.
   */
  async function runAsPod(node: string): Promise<{ code: number | null; stdout: string; stderr: string; listened: boolean }> {
    const sysctls = (pod.securityContext.sysctls as Array<{ name: string; value: string }>)
      .map(({ name, value }) => `echo ${value} > /proc/sys/${name.replace(/\./g, '/')}`)
      .join(' && ');
    // The pod's user must be able to read the CLI and the config.
    const tree = readableByAll(ROOT, ['deploy']);
    const imageArgs = cmd.map((word) => (word === '/etc/sni-router/config.yaml' ? path.join(tree.root, 'deploy', 'config.yaml') : word));
    const script = `${sysctls} && exec setpriv "$@"`;
    const cli = path.join(tree.root, path.relative(ROOT, CLI));
    const child = spawn('unshare', ['--net', 'sh', '-c', script, 'sh', ...podSetprivArgs(pod, container), node, cli, ...imageArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let listened = false;
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (!listened && stdout.split('\n').some((line) => line.includes('"msg":"listening"') && line.includes('"port":443'))) {
        listened = true;
        child.kill('SIGTERM'); // unshare, sh and setpriv exec: this is the router itself
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', (status) => resolve(status)));
    clearTimeout(killer);
    tree.remove();
    return { code, stdout, stderr, listened };
  }

  /** A private copy of node with a file capability, readable and executable by the pod's user. */
  function nodeWithFileCapability(dir: string, capabilities: string): string {
    chmodSync(dir, 0o755);
    const copy = path.join(dir, 'node');
    copyFileSync(process.execPath, copy);
    chmodSync(copy, 0o755);
    execFileSync('setcap', [capabilities, copy]);
    return copy;
  }

  it.skipIf(!canRunPod)("starts and listens on 443 with the image's default config", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sni-router-pod-'));
    try {
      // The image's node: a copy with the Dockerfile's file capability when it sets one, else node as it is.
      const capabilities = setcapLine ? /setcap\s+(\S+)/.exec(setcapLine[1])![1]! : null;
      const node = capabilities !== null ? nodeWithFileCapability(dir, capabilities) : process.execPath;
      const result = await runAsPod(node);
      expect(result.stderr).toBe('');
      expect(result.listened, result.stdout).toBe(true);
      expect(result.code).toBe(0); // SIGTERM: drained and exited cleanly
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it.skipIf(!canRunPod)('negative control: node with a file capability cannot even start there (the crash-loop)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sni-router-pod-'));
    try {
      const result = await runAsPod(nodeWithFileCapability(dir, 'cap_net_bind_service=+ep'));
      expect(result.listened).toBe(false);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(/failed to execute .*node: Operation not permitted/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
