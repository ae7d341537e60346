/**
 * What to say when a listener on a port below 1024 is refused with EACCES: the kernel reserves those ports for
 * processes with CAP_NET_BIND_SERVICE (or root), and an operator new to that wants the ways around it, not errno.
 */

/** Below this port Linux asks for CAP_NET_BIND_SERVICE (the default of net.ipv4.ip_unprivileged_port_start). */
const FIRST_UNPRIVILEGED_PORT = 1024;

/** The three usual ways, in the order an operator would reach for them. */
export function describeLowPortWays(port: number): string {
  return [
    `ports below ${FIRST_UNPRIVILEGED_PORT} need CAP_NET_BIND_SERVICE; any one of these gives it:`,
    'under systemd, AmbientCapabilities=CAP_NET_BIND_SERVICE in the unit (deploy/sni-router.service does this);',
    `or setcap cap_net_bind_service=+ep on the node binary (${process.execPath});`,
    `or sysctl net.ipv4.ip_unprivileged_port_start=${port} (per network namespace; Kubernetes pods can set it)`,
  ].join(' ');
}

/** The hint for a failed listen, or null when the failure is not a refused low port. */
export function lowPortHint(label: string, cause: unknown): string | null {
  if ((cause as NodeJS.ErrnoException | null)?.code !== 'EACCES') return null;
  const port = Number(/:(\d+)$/.exec(label)?.[1]);
  if (!Number.isInteger(port) || port <= 0 || port >= FIRST_UNPRIVILEGED_PORT) return null;
  return describeLowPortWays(port);
}
