/**
 * deploy/ is checked, not just shipped:
 * - the systemd unit: `systemd-analyze verify` when the machine has it (ExecStart pointed at this checkout),
 *   plus a structural read: reload by SIGHUP, stop by SIGTERM with a timeout above the default shutdown_grace;
 * - the Dockerfile: non-root user, the capability for port 443, the entry point that exists in dist/. No docker
 *   engine runs here, so the image is not built;
 * - the Kubernetes example: parsed with the yaml package; the kinds, ports, probes and the ConfigMap mount that
 *   the reload-by-symlink-swap relies on; and the config in the ConfigMap passes `sni-router check`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { CLI } from './helpers/cli-process.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DEPLOY = path.join(ROOT, 'deploy');
const read = (file: string): string => readFileSync(path.join(DEPLOY, file), 'utf8');

function hasCommand(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;
}

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

describe('deploy/sni-router.service', () => {
  const text = read('sni-router.service');

  it('reloads with SIGHUP, stops with SIGTERM after the drain, binds 443 without root', () => {
    const unit = parseUnit(text);
    expect([...unit.keys()]).toEqual(['Unit', 'Service', 'Install']);
    const service = unit.get('Service')!;
    expect(service.get('ExecReload')).toEqual(['/bin/kill -HUP $MAINPID']);
    expect(service.get('ExecStart')?.[0]).toMatch(/dist\/cli\.js --config \/etc\/sni-router\/config\.yaml$/);
    expect(service.get('KillSignal')).toEqual(['SIGTERM']);
    expect(Number.parseInt(service.get('TimeoutStopSec')?.[0] ?? '0', 10)).toBeGreaterThan(30); // default shutdown_grace 30s
    expect(service.get('AmbientCapabilities')).toEqual(['CAP_NET_BIND_SERVICE']);
    expect(service.get('DynamicUser')).toEqual(['yes']);
    expect(service.get('RestartPreventExitStatus')).toEqual(['1']);
    expect(unit.get('Install')!.get('WantedBy')).toEqual(['multi-user.target']);
  });

  it.skipIf(!hasCommand('systemd-analyze'))('passes systemd-analyze verify', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sni-router-unit-'));
    try {
      const unit = path.join(dir, 'sni-router.service');
      // verify checks that ExecStart's program exists: point it at this machine's node and this checkout.
      writeFileSync(unit, text.replace('/usr/bin/node /opt/sni-router/dist/cli.js', `${process.execPath} ${CLI}`));
      const result = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
      const complaints = result.stderr.split('\n').filter((line) => line.includes('sni-router.service'));
      expect(complaints).toEqual([]);
      expect(result.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('deploy/Dockerfile', () => {
  const lines = read('Dockerfile')
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'));
  const instructions = lines.filter((line) => /^[A-Z]+ /.test(line));

  it('runs as a non-root user, can bind 443, and starts dist/cli.js with the config', () => {
    expect(instructions.filter((line) => line.startsWith('FROM ')).map((line) => line.split(' ')[1])).toEqual([
      'node:20-bookworm-slim',
      'node:20-bookworm-slim',
    ]);
    const user = instructions.filter((line) => line.startsWith('USER '));
    expect(user).toEqual(['USER node']);
    expect(instructions.indexOf('USER node')).toBeGreaterThan(instructions.findIndex((line) => line.includes('setcap')));
    expect(lines.join('\n')).toContain('setcap cap_net_bind_service=+ep /usr/local/bin/node');
    expect(instructions).toContain('EXPOSE 443');
    expect(instructions).toContain('STOPSIGNAL SIGTERM');
    const entry = instructions.find((line) => line.startsWith('ENTRYPOINT '))!;
    expect(JSON.parse(entry.slice('ENTRYPOINT '.length))).toEqual(['node', '/opt/sni-router/dist/cli.js']);
    const cmd = instructions.find((line) => line.startsWith('CMD '))!;
    expect(JSON.parse(cmd.slice('CMD '.length))).toEqual(['--config', '/etc/sni-router/config.yaml']);
  });

  it('copies only files that exist in the repository', () => {
    const sources = instructions
      .filter((line) => line.startsWith('COPY ') && !line.includes('--from='))
      .flatMap((line) => line.split(/\s+/).slice(1, -1));
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) expect(() => readFileSync(path.join(ROOT, source)), source).not.toThrow(/ENOENT/);
  });
});

describe('deploy/kubernetes/sni-router.yaml', () => {
  const documents = parseAllDocuments(read('kubernetes/sni-router.yaml')).map((document) => {
    expect(document.errors).toEqual([]);
    return document.toJS() as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  });
  const byKind = (kind: string) => documents.find((document) => document.kind === kind)!;

  it('has a ConfigMap, a Deployment and a Service that fit together', () => {
    expect(documents.map((document) => `${String(document.apiVersion)} ${String(document.kind)}`)).toEqual(['v1 ConfigMap', 'apps/v1 Deployment', 'v1 Service']);
    const deployment = byKind('Deployment');
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0];
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
    // Non-root, nothing to escalate, and still able to bind 443.
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
    expect(pod.securityContext.sysctls).toEqual([{ name: 'net.ipv4.ip_unprivileged_port_start', value: '0' }]);
    expect(container.securityContext).toMatchObject({ allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    // Drain time: the pod's grace outlasts shutdown_grace.
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(30);
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
});
