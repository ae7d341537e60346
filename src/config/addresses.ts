/**
 * host:port text → HostPort / ListenAddress, with a reason an operator can act on when it is wrong.
 *
 *   backend   10.0.0.5:8443   [::1]:8443   backend.internal:443          port 1–65535
 *   listen    the same, plus  :8443        (every IPv4 and IPv6 address: host '::', one dual-stack socket)
 *                             [::]:443     (IPv6 only, so that it can sit beside 0.0.0.0:443)
 *                             port 0       (any free port; the router logs the one it got — handy in tests)
 *
 * IPv6 literals need brackets (`::1:8443` is ambiguous). Host names follow the same rules as server names
 * (src/host-name.ts) and are kept lower case; a dotted all-digit host that is not an IPv4 address is an error
 * rather than a DNS name nobody meant. Which text is an IP address is wire/ip-address.ts's call (the one parser,
 * which agrees with node:net).
 */
import { ipVersionOf } from '../wire/ip-address.js';
import { describeHostNameProblem } from '../wire/host-name.js';
import type { HostPort, ListenEndpoint } from './types.js';

/** `reason` finishes a sentence that starts with what the address is for: "backend '10.0.0.5' <reason>". */
export type AddressResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

const MAX_PORT = 65_535;
const PORT_DIGITS = /^\d{1,5}$/;
const DOTTED_DIGITS = /^[\d.]+$/;
/** `:8443` listens on every address, IPv4 and IPv6, through one dual-stack socket bound to '::'. */
const DUAL_STACK_HOST = '::';

interface SplitAddress {
  readonly host: string; // without brackets; '' when omitted
  readonly port: number;
  readonly isBracketed: boolean;
}

function fail<T>(reason: string): AddressResult<T> {
  return { ok: false, reason };
}

function split(text: string, minPort: number): AddressResult<SplitAddress> {
  let host: string;
  let portText: string;
  let isBracketed = false;
  if (text.length === 0) return fail('is empty');
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close === -1) return fail("has a '[' without a closing ']'");
    host = text.slice(1, close);
    const rest = text.slice(close + 1);
    if (rest.length === 0) return fail(`needs a port, as in '${text}:443'`);
    if (!rest.startsWith(':')) return fail("must have ':port' right after the ']'");
    portText = rest.slice(1);
    isBracketed = true;
    if (ipVersionOf(host) !== 6) return fail(`has '[${host}]', but brackets are only for IPv6 addresses`);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon === -1) return fail(`needs a port, as in '${text}:443'`);
    if (text.indexOf(':') !== colon) {
      return fail("needs brackets around an IPv6 address, as in '[::1]:8443'");
    }
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
  }
  if (portText.length === 0) return fail(`needs a port after the ':', as in '${text}443'`);
  if (!PORT_DIGITS.test(portText)) return fail(`has port '${portText}', which is not a number from ${minPort} to ${MAX_PORT}`);
  const port = Number(portText);
  if (port < minPort || port > MAX_PORT) return fail(`has port ${port}, outside ${minPort}–${MAX_PORT}`);
  if (!isBracketed && host.length > 0 && ipVersionOf(host) !== 4) {
    if (DOTTED_DIGITS.test(host)) return fail(`has '${host}', which is not a valid IPv4 address`);
    const problem = describeHostNameProblem(host);
    if (problem !== null) return fail(`has host '${host}', which is not a host name or IP address: ${problem}`);
  }
  return { ok: true, value: { host: host.toLowerCase(), port, isBracketed } };
}

function labelOf(host: string, port: number, isBracketed: boolean): string {
  if (host.length === 0) return `:${port}`;
  return isBracketed ? `[${host}]:${port}` : `${host}:${port}`;
}

/** A backend: host (name, IPv4, or bracketed IPv6) and a port from 1 to 65535. */
export function parseBackendAddress(raw: string): AddressResult<HostPort> {
  const text = raw.trim();
  const result = split(text, 1);
  if (!result.ok) return result;
  const { host, port, isBracketed } = result.value;
  if (host.length === 0) return fail(`needs a host before the ':', as in '10.0.0.5${text}'`);
  return { ok: true, value: { host, port, label: labelOf(host, port, isBracketed) } };
}

/** A listen address: as a backend, plus `:port` (dual-stack) and port 0 (any free port). */
export function parseListenAddress(raw: string): AddressResult<ListenEndpoint> {
  const text = raw.trim();
  const result = split(text, 0);
  if (!result.ok) return result;
  const { host, port, isBracketed } = result.value;
  const label = labelOf(host, port, isBracketed);
  if (host.length === 0) return { ok: true, value: { host: DUAL_STACK_HOST, port, label, ipv6Only: false } };
  return { ok: true, value: { host, port, label, ipv6Only: isBracketed } };
}

/** The admin listener takes the same forms as a listen address. */
export function parseAdminAddress(raw: string): AddressResult<HostPort> {
  const result = parseListenAddress(raw);
  if (!result.ok) return result;
  const { host, port, label } = result.value;
  return { ok: true, value: { host, port, label } };
}
