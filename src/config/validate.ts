/**
 * The parsed YAML document → a Draft plus every problem found, each at the node it is about.
 *
 * Validation never stops at the first problem (HAProxy's habit): a bad value is reported and skipped, and the
 * walk carries on, so one run of `sni-router check` lists everything to fix. The top-level keys are a table:
 * each names the section that reads it (src/config/sections/) and where its value goes in the Draft. They are
 * read in stages, whatever order the file has them in: `proxy_protocol` first (pools inherit it), routes and the
 * default pool last.
 */
import { isMap, isScalar, type Node } from 'yaml';
import { type Draft, emptyDraft, FILE_DEFAULT_PROXY_PROTOCOL, LOG_LEVELS, PROXY_PROTOCOL_MODES } from './draft.js';
import { type ConfigProblem, quoteValue } from './problem.js';
import { readListen } from './sections/listen.js';
import { readLimits, readMaxHelloBytes } from './sections/limits.js';
import { readAdmin, readDataPlane, readShutdownGrace, readWorkers } from './sections/operations.js';
import { readQuic } from './sections/quic.js';
import { readDefault, readRoutes } from './sections/routes.js';
import { readTimeouts } from './sections/timeouts.js';
import { YamlReader } from './sections/yaml-reader.js';
import { suggestionSuffix } from './suggest.js';
import type { YamlSource } from './yaml-source.js';

/** `inherited` is read first (pools inherit it), `routing` last (it reads pools). */
type Stage = 'inherited' | 'settings' | 'routing';
const STAGES: readonly Stage[] = ['inherited', 'settings', 'routing'];

interface TopLevelKey {
  readonly stage: Stage;
  /** Reads the key's value into the draft; a bad value is reported and leaves the draft's default. */
  read(reader: YamlReader, node: Node | null, draft: Draft): void;
}

const settings = (read: TopLevelKey['read']): TopLevelKey => ({ stage: 'settings', read });

/** In the order "did you mean" lists them. */
const TOP_LEVEL: Readonly<Record<string, TopLevelKey>> = {
  listen: settings((reader, node, draft) => {
    draft.isListenGiven = true;
    draft.listen = readListen(reader, node);
  }),
  proxy_protocol: {
    stage: 'inherited',
    read: (reader, node, draft) => {
      draft.proxyProtocol = reader.enumOf(node, 'proxy_protocol', PROXY_PROTOCOL_MODES) ?? draft.proxyProtocol;
    },
  },
  timeouts: settings((reader, node, draft) => {
    draft.timeouts = readTimeouts(reader, node);
  }),
  max_hello_bytes: settings((reader, node, draft) => {
    draft.maxHelloBytes = readMaxHelloBytes(reader, node) ?? draft.maxHelloBytes;
  }),
  routes: {
    stage: 'routing',
    read: (reader, node, draft) => {
      draft.isRoutingGiven = true;
      draft.routes = readRoutes(reader, node, draft.proxyProtocol);
    },
  },
  default: {
    stage: 'routing',
    read: (reader, node, draft) => {
      draft.isRoutingGiven = true;
      draft.defaultPool = readDefault(reader, node, draft.proxyProtocol);
    },
  },
  log_level: settings((reader, node, draft) => {
    draft.logLevel = reader.enumOf(node, 'log_level', LOG_LEVELS) ?? draft.logLevel;
  }),
  admin: settings((reader, node, draft) => {
    draft.admin = readAdmin(reader, node);
  }),
  limits: settings((reader, node, draft) => {
    draft.limits = readLimits(reader, node);
  }),
  shutdown_grace: settings((reader, node, draft) => {
    const ms = readShutdownGrace(reader, node);
    if (ms !== null) draft.shutdownGraceMs = ms;
  }),
  workers: settings((reader, node, draft) => {
    const workers = readWorkers(reader, node);
    if (workers !== null) draft.workers = workers;
  }),
  data_plane: settings((reader, node, draft) => {
    const dataPlane = readDataPlane(reader, node);
    if (dataPlane !== null) draft.dataPlane = dataPlane;
  }),
  quic: settings((reader, node, draft) => {
    draft.quic = readQuic(reader, node);
  }),
};
export const TOP_LEVEL_KEYS = Object.keys(TOP_LEVEL);

/** Reads one YAML document; `baseDir` is the config file's folder, against which cert/key paths resolve. */
export function validateDocument(source: YamlSource, sourceFile: string, baseDir: string): { draft: Draft; problems: ConfigProblem[] } {
  const reader = new YamlReader(source, baseDir);
  const draft = emptyDraft(FILE_DEFAULT_PROXY_PROTOCOL, sourceFile);
  readTopLevel(reader, draft);
  return { draft, problems: reader.problems };
}

function readTopLevel(reader: YamlReader, draft: Draft): void {
  const root = reader.root();
  if (root === null || (isScalar(root) && root.value === null)) return; // an empty file: defaults only
  if (!isMap(root)) {
    draft.isTopLevelUnclear = true;
    reader.report(root, "the config must be a mapping of settings (listen, routes, default, …), not a single value or a list");
    return;
  }
  const fields = reader.fields(root, TOP_LEVEL_KEYS, (key) =>
    /[.*~]/.test(key)
      ? `unknown top-level key ${quoteValue(key)}; routes go under 'routes:'`
      : `unknown top-level key ${quoteValue(key)}${suggestionSuffix(key, TOP_LEVEL_KEYS)}`,
  );
  draft.isTopLevelUnclear = fields.hasUnknownKeys;
  for (const stage of STAGES) {
    for (const [key, entry] of Object.entries(TOP_LEVEL)) {
      const pair = fields.pairs.get(key);
      if (entry.stage === stage && pair !== undefined) entry.read(reader, reader.valueOf(pair), draft);
    }
  }
}
