import { API_VERSION } from '../../src/api/index.js';

/**
 * The paths of the daemon's HTTP API (ignited), as OpenAPI 3.0 operations. Bodies and answers
 * name the component schemas generated from src/api's zod schemas. A stream
 * (`application/x-ndjson`) is described by the schema of one line.
 */
type Schema = Record<string, unknown>;
type Operation = Record<string, unknown>;

export const API_BASE = `/apis/${API_VERSION}`;

const ref = (id: string): Schema => ({ $ref: `#/components/schemas/${id}` });
const text: Schema = { type: 'string' };

/** Statuses any request may get: no token over TCP, too slow a request, a failure of the daemon. */
const ALWAYS = [401, 408, 500];
/** Statuses of requests with a body: too large, not JSON or YAML. */
const WITH_BODY = [413, 415];

interface Spec {
  id: string;
  tag: string;
  summary: string;
  description?: string;
  query?: [name: string, schema: Schema, description: string][];
  body?: { schema: Schema; required: boolean; yaml?: boolean };
  ok: [status: number, description: string, content: Record<string, Schema>];
  errors: number[];
  headers?: [name: string, description: string][];
}

const PROBLEM_RESPONSE = { $ref: '#/components/responses/Problem' };

function op(s: Spec): Operation {
  const [status, description, content] = s.ok;
  const responses: Record<string, unknown> = {
    [String(status)]: {
      description,
      ...(Object.keys(content).length > 0
        ? {
            content: Object.fromEntries(
              Object.entries(content).map(([type, schema]) => [type, { schema }]),
            ),
          }
        : {}),
    },
  };
  const errors = new Set([...s.errors, ...ALWAYS, ...(s.body ? WITH_BODY : [])]);
  for (const e of [...errors].sort()) responses[String(e)] = PROBLEM_RESPONSE;
  const parameters = [
    ...(s.headers ?? []).map(([name, description]) => ({
      name,
      in: 'header',
      required: true,
      description,
      schema: text,
    })),
    ...(s.query ?? []).map(([name, schema, description]) => ({
      name,
      in: 'query',
      required: false,
      description,
      schema,
    })),
  ];
  return {
    operationId: s.id,
    tags: [s.tag],
    summary: s.summary,
    ...(s.description !== undefined ? { description: s.description } : {}),
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(s.body
      ? {
          requestBody: {
            required: s.body.required,
            content: {
              'application/json': { schema: s.body.schema },
              ...(s.body.yaml ? { 'application/yaml': { schema: s.body.schema } } : {}),
            },
          },
        }
      : {}),
    responses,
  };
}

/** `a VM`, `an Image`. */
const an = (kind: string) => `${/^[AEIOU]/.test(kind) ? 'an' : 'a'} ${kind}`;

const bool: Schema = { type: 'boolean' };

/** A WebSocket under a VM (`GET` with the upgrade headers, answered 101) on `…/vms/{name}/…`. */
function socketOp(
  id: string,
  summary: string,
  description: string,
  query: Spec['query'] = [],
): Record<string, unknown> {
  return {
    parameters: [NAME_PARAM],
    get: op({
      id,
      tag: 'vms',
      summary,
      description,
      query,
      headers: [
        ['Upgrade', '`websocket`'],
        ['Connection', '`Upgrade`'],
      ],
      ok: [101, 'Switching Protocols: the WebSocket is open.', {}],
      errors: [400, 404, 409],
    }),
  };
}
const NAME_PARAM = {
  name: 'name',
  in: 'path',
  required: true,
  description: 'The name, the UID, or a unique prefix of either (as the CLI finds objects).',
  schema: text,
};

const WATCH_QUERY: NonNullable<Spec['query']> = [
  ['watch', bool, 'Stream the changes as JSON lines (`application/x-ndjson`) instead of a list.'],
  [
    'resourceVersion',
    text,
    "With `watch`: stream the changes after this version (a list's `metadata.resourceVersion`). Without it, the watch begins with an ADDED line for every current object. A version older than the daemon keeps is a 410.",
  ],
];

const LABEL_SELECTOR: [string, Schema, string] = [
  'labelSelector',
  text,
  'Kubernetes equality selector: `k=v`, `k!=v`, `k` (has it), `!k` (has not), comma-separated.',
];

function collection(plural: string, kind: string, tag: string): Record<string, Schema> {
  const list = op({
    id: `list${kind}s`,
    tag,
    summary: `List ${kind}s, or watch them`,
    query: kind === 'VM' ? [LABEL_SELECTOR, ...WATCH_QUERY] : WATCH_QUERY,
    ok: [
      200,
      `The ${kind}s; with \`watch=true\`, a stream with one ${kind}WatchEvent per line.`,
      { 'application/json': ref(`${kind}List`), 'application/x-ndjson': ref(`${kind}WatchEvent`) },
    ],
    errors: [400, 410],
  });
  const one = `${API_BASE}/${plural}/{name}`;
  const del = (what: string) =>
    op({
      id: `delete${kind}`,
      tag,
      summary: `Delete ${an(kind)}`,
      query: [['force', bool, what]],
      ok: [200, 'Deleted.', { 'application/json': ref('Status') }],
      errors: [400, 404, 409],
    });
  if (kind === 'VM') {
    const action = (verb: string, summary: string, description: string) => ({
      parameters: [NAME_PARAM],
      post: op({
        id: `${verb}VM`,
        tag,
        summary,
        description,
        body: { schema: ref('ActionOptions'), required: false },
        ok: [200, 'The VM after the action.', { 'application/json': ref('VM') }],
        errors: [400, 404, 409, 503],
      }),
    });
    return {
      [`${API_BASE}/vms`]: {
        get: list,
        post: op({
          id: 'createVM',
          tag,
          summary: 'Create a VM from a manifest',
          description:
            'Over TCP, the manifest follows the gitops rules: no host files outside the allowed directories, host ports in the allowed range (403 otherwise).',
          query: [['start', bool, 'Start it too, as `ignite run`; answers once it runs.']],
          body: { schema: ref('VM'), required: true, yaml: true },
          ok: [201, 'The stored VM.', { 'application/json': ref('VM') }],
          errors: [400, 403, 404, 409, 503],
        }),
      },
      [one]: {
        parameters: [NAME_PARAM],
        get: op({
          id: 'getVM',
          tag,
          summary: 'Get a VM',
          ok: [200, 'The VM.', { 'application/json': ref('VM') }],
          errors: [400, 404],
        }),
        put: op({
          id: 'replaceVM',
          tag,
          summary: 'Replace a VM',
          description:
            'Labels and annotations change in place (same UID). A spec change is stored for a stopped VM; for a running one it is a 409.',
          body: { schema: ref('VM'), required: true, yaml: true },
          ok: [200, 'The stored VM.', { 'application/json': ref('VM') }],
          errors: [400, 403, 404, 409],
        }),
        delete: del('Remove it even while it runs (it is killed).'),
      },
      [`${one}/start`]: action('start', 'Start a VM', 'Answers once its hypervisor runs.'),
      [`${one}/stop`]: action(
        'stop',
        'Stop a VM',
        'Powers the guest off, killing it after `timeoutSeconds`.',
      ),
      [`${one}/kill`]: action('kill', 'Kill a VM', 'Ends its hypervisor at once.'),
      [`${one}/logs`]: {
        parameters: [NAME_PARAM],
        get: op({
          id: 'getVMLogs',
          tag,
          summary: "A VM's console log",
          query: [['follow', bool, 'Keep streaming what the console prints.']],
          ok: [200, 'The console log.', { 'text/plain': text }],
          errors: [400, 404],
        }),
      },
      [`${one}/metrics`]: {
        parameters: [NAME_PARAM],
        get: op({
          id: 'getVMMetrics',
          tag,
          summary: "A running VM's metrics",
          ok: [200, 'Prometheus text exposition.', { 'text/plain': text }],
          errors: [400, 404, 409],
        }),
      },
      [`${one}/console`]: socketOp(
        'attachVMConsole',
        "A running VM's serial console, as a WebSocket",
        'Binary frames both ways: what the console prints, and what is typed on it. Over TCP the token may ride as the subprotocol `ignite.bearer.<token>`.',
      ),
      [`${one}/exec`]: socketOp(
        'execInVM',
        "Run a command in a running VM's guest over SSH, as a WebSocket",
        'The VM\'s own host runs the command with the VM\'s key. Subprotocol `ignite.exec`. Every frame is binary, its first byte the channel: 0 stdin and 4 end of stdin from the client; 1 stdout, 2 stderr and 3 the exit status (`{"code": N}`) from the daemon, which then closes. An error closes the socket with code 4000 + its HTTP status and the message as the reason.',
        [
          [
            'command',
            { type: 'array', items: text },
            'Repeated: one word is a shell command line, several an argv, none a login shell.',
          ],
          ['tty', bool, 'Force a terminal on the command.'],
          [
            'timeout',
            { type: 'integer', minimum: 1, maximum: 600, default: 10 },
            "Seconds to wait for the guest's SSH server.",
          ],
        ],
      ),
    };
  }
  return {
    [`${API_BASE}/${plural}`]: {
      get: list,
      post: op({
        id: `import${kind}`,
        tag,
        summary: `Import ${an(kind)} from a registry`,
        description:
          'With `Accept: application/x-ndjson`, the answer streams progress lines, then the result (or an error: the status is then already 201).',
        body: { schema: ref('ImportRequest'), required: true },
        ok: [
          201,
          `The imported ${kind}.`,
          {
            'application/json': ref(kind),
            'application/x-ndjson': ref(`${kind}ImportLine`),
          },
        ],
        errors: [400, 404, 503],
      }),
    },
    [one]: {
      parameters: [NAME_PARAM],
      get: op({
        id: `get${kind}`,
        tag,
        summary: `Get ${an(kind)}`,
        ok: [200, `The ${kind}.`, { 'application/json': ref(kind) }],
        errors: [400, 404],
      }),
      delete: del(`Remove it even while VMs use it (they are removed first).`),
    },
  };
}

/** Snapshots: list, create of a running VM, get, delete, and a clone of one. */
function snapshots(): Record<string, Schema> {
  const tag = 'snapshots';
  const one = `${API_BASE}/snapshots/{name}`;
  return {
    [`${API_BASE}/snapshots`]: {
      get: op({
        id: 'listSnapshots',
        tag,
        summary: 'List Snapshots, oldest first',
        ok: [200, 'The Snapshots.', { 'application/json': ref('SnapshotList') }],
        errors: [],
      }),
      post: op({
        id: 'createSnapshot',
        tag,
        summary: 'Snapshot a running VM, as `ignite snapshot create`',
        description:
          'Pauses the VM, freezes its disk and saves its memory and devices, then lets it go on (or with `stop`, ends it: its next start resumes the snapshot). Answers once the state is saved.',
        body: { schema: ref('SnapshotRequest'), required: true },
        ok: [201, 'The stored Snapshot.', { 'application/json': ref('Snapshot') }],
        errors: [400, 404, 409, 503],
      }),
    },
    [one]: {
      parameters: [NAME_PARAM],
      get: op({
        id: 'getSnapshot',
        tag,
        summary: 'Get a Snapshot',
        ok: [200, 'The Snapshot.', { 'application/json': ref('Snapshot') }],
        errors: [400, 404],
      }),
      delete: op({
        id: 'deleteSnapshot',
        tag,
        summary: 'Delete a Snapshot and its files',
        description: 'Refused (409) while a VM or snapshot sits on its disk, unless `force`.',
        query: [['force', bool, 'Remove it even so: what sits on it can no longer start.']],
        ok: [200, 'Deleted.', { 'application/json': ref('Status') }],
        errors: [400, 404, 409],
      }),
    },
    [`${one}/clone`]: {
      parameters: [NAME_PARAM],
      post: op({
        id: 'cloneSnapshot',
        tag,
        summary: 'Create a VM from a Snapshot, as `ignite run --from-snapshot`',
        description:
          "The manifest gives the clone's name, labels, network mode and ports; its image must be the snapshot's, and its kernel, vCPUs and memory default to the snapshot's. Its first start resumes the snapshot instead of booting.",
        query: [['start', bool, 'Start it too, as `ignite run`; answers once it runs.']],
        body: { schema: ref('VM'), required: true, yaml: true },
        ok: [201, 'The stored VM.', { 'application/json': ref('VM') }],
        errors: [400, 403, 404, 409, 503],
      }),
    },
  };
}

function system(): Record<string, Schema> {
  return {
    [`${API_BASE}/events`]: {
      get: op({
        id: 'watchEvents',
        tag: 'events',
        summary: 'The events kept (a list), or a stream of them with `watch`, as `ignite events`',
        query: [
          ['watch', bool, 'Stream the events as they happen (`true`), after those since `since`.'],
          [
            'since',
            { type: 'string', format: 'date-time' },
            'Replay the events since this time (RFC 3339).',
          ],
          ['vm', text, 'Only this VM (name or UID).'],
          ['type', text, 'Only these event types, comma-separated: `start,die`.'],
        ],
        ok: [
          200,
          'An EventList; with `watch`, one Event per line.',
          { 'application/json': ref('EventList'), 'application/x-ndjson': ref('Event') },
        ],
        errors: [400, 410],
      }),
    },
    '/version': {
      get: op({
        id: 'getVersion',
        tag: 'system',
        summary: 'The version, as `ignite version -o json`',
        ok: [200, 'The build and the host tools.', { 'application/json': ref('VersionDetails') }],
        errors: [],
      }),
    },
    '/healthz': {
      get: op({
        id: 'getHealth',
        tag: 'system',
        summary: 'Whether the daemon serves',
        ok: [200, '`ok`', { 'text/plain': text }],
        errors: [],
      }),
    },
    '/metrics': {
      get: op({
        id: 'getMetrics',
        tag: 'system',
        summary: "Every running VM's metrics and the manager's, as `ignite metrics`",
        ok: [200, 'Prometheus text exposition.', { 'text/plain': text }],
        errors: [],
      }),
    },
    '/': {
      get: op({
        id: 'getConsolePage',
        tag: 'web console',
        summary: 'The web console',
        ok: [200, 'Its page.', { 'text/html': text }],
        errors: [],
      }),
    },
    '/ui/{file}': {
      parameters: [{ name: 'file', in: 'path', required: true, schema: text }],
      get: op({
        id: 'getConsoleFile',
        tag: 'web console',
        summary: "The web console's static files (scripts, styles)",
        ok: [200, 'The file.', { '*/*': { type: 'string', format: 'binary' } }],
        errors: [404],
      }),
    },
  };
}

/** Every path of the API, and the shared problem response. */
export function buildPaths(): { paths: Record<string, Schema>; responses: Record<string, Schema> } {
  return {
    paths: {
      ...collection('vms', 'VM', 'vms'),
      ...collection('images', 'Image', 'images'),
      ...collection('kernels', 'Kernel', 'kernels'),
      ...snapshots(),
      ...system(),
    },
    responses: {
      Problem: {
        description:
          'An error as `application/problem+json`: 400 a bad request (with the field paths of a bad body), 401 no token (TCP), 403 not allowed over TCP, 404 not found, 405 method not allowed, 408 too slow a request, 409 a conflict or a wrong state, 410 a watch version too old, 413 a body over 1 MiB, 415 not JSON or YAML, 500 an internal error, 503 a service unavailable.',
        content: { 'application/problem+json': { schema: ref('Problem') } },
      },
    },
  };
}
