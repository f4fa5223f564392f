import { request } from 'node:http';
import { internal, invalidArgument, unavailable } from '../../errors.js';

/**
 * Which generation of Firecracker's API to speak. `v0` is the v0.x line Ignite v0.4 shipped
 * (v0.17): `ht_enabled` is required, drives need `path_on_host` and `is_read_only`, the logger
 * takes two FIFOs (log and metrics) and there is no initrd. `v1` is v1.x: `smt`, `log_path`,
 * a separate `PUT /metrics`, and `initrd_path`.
 */
export type FirecrackerApi = 'v0' | 'v1';

/** The API's reply: the HTTP status and the parsed JSON body, if any. */
export interface FirecrackerResponse {
  status: number;
  body: unknown;
}

/** How requests reach Firecracker: HTTP over its unix socket, or a recorder in tests. */
export interface FirecrackerTransport {
  request(
    method: 'GET' | 'PUT' | 'PATCH',
    path: string,
    body?: unknown,
  ): Promise<FirecrackerResponse>;
}

/** HTTP/1.1 over Firecracker's API socket (`--api-sock`). */
export function unixSocketTransport(socketPath: string, timeoutMs = 10_000): FirecrackerTransport {
  return {
    request: (method, path, body) =>
      new Promise((resolve, reject) => {
        const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
        const req = request(
          {
            socketPath,
            method,
            path,
            headers: {
              Accept: 'application/json',
              ...(payload === undefined
                ? {}
                : { 'Content-Type': 'application/json', 'Content-Length': payload.length }),
            },
            timeout: timeoutMs,
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => {
              const text = Buffer.concat(chunks).toString('utf8');
              let parsed: unknown;
              try {
                parsed = text === '' ? undefined : JSON.parse(text);
              } catch {
                parsed = text;
              }
              resolve({ status: res.statusCode ?? 0, body: parsed });
            });
            res.on('error', reject);
          },
        );
        req.on('timeout', () => req.destroy(new Error(`no reply within ${timeoutMs} ms`)));
        req.on('error', reject);
        req.end(payload);
      }),
  };
}

export interface InstanceInfo {
  id: string;
  state: string;
  vmm_version: string;
  app_name?: string;
}

export type ActionType = 'InstanceStart' | 'SendCtrlAltDel' | 'FlushMetrics';

/**
 * Firecracker's REST API, with its own resource names: `machine-config`, `boot-source`,
 * `drives`, `network-interfaces`, `logger`, `metrics`, `actions`. Methods take our names and
 * send the body the configured API generation expects; a `{fault_message}` reply becomes an
 * AppError that names the VM and the request.
 */
export class FirecrackerClient {
  constructor(
    private readonly transport: FirecrackerTransport,
    private readonly api: FirecrackerApi,
    /** `vm "web"`: leads every error message. */
    private readonly label: string,
  ) {}

  /** `GET /`: the instance's state and Firecracker's version. */
  async describeInstance(): Promise<InstanceInfo> {
    return (await this.call('GET', '/')) as InstanceInfo;
  }

  /** `PUT /logger` and, on v1, `PUT /metrics`: both files must already exist. */
  async putLogger(options: { logPath: string; metricsPath: string }): Promise<void> {
    if (this.api === 'v0') {
      await this.call('PUT', '/logger', {
        log_fifo: options.logPath,
        metrics_fifo: options.metricsPath,
        level: 'Warning',
      });
      return;
    }
    await this.call('PUT', '/logger', { log_path: options.logPath, level: 'Warning' });
    await this.call('PUT', '/metrics', { metrics_path: options.metricsPath });
  }

  async putMachineConfig(options: { vcpuCount: number; memSizeMib: number }): Promise<void> {
    const base = { vcpu_count: options.vcpuCount, mem_size_mib: options.memSizeMib };
    await this.call(
      'PUT',
      '/machine-config',
      this.api === 'v0' ? { ...base, ht_enabled: false } : { ...base, smt: false },
    );
  }

  async putBootSource(options: {
    kernelImagePath: string;
    bootArgs: string;
    initrdPath?: string;
  }): Promise<void> {
    const body: Record<string, string> = {
      kernel_image_path: options.kernelImagePath,
      boot_args: options.bootArgs,
    };
    if (options.initrdPath !== undefined) {
      if (this.api === 'v0') {
        throw invalidArgument(`${this.label}: firecracker v0.x cannot boot with an initrd`, {
          hint: 'use a kernel with virtio and ext4 built in, or Firecracker v1',
        });
      }
      body.initrd_path = options.initrdPath;
    }
    await this.call('PUT', '/boot-source', body);
  }

  async putDrive(
    driveId: string,
    options: { pathOnHost: string; isRootDevice: boolean; isReadOnly: boolean },
  ): Promise<void> {
    await this.call('PUT', `/drives/${encodeURIComponent(driveId)}`, {
      drive_id: driveId,
      path_on_host: options.pathOnHost,
      is_root_device: options.isRootDevice,
      is_read_only: options.isReadOnly,
    });
  }

  async putNetworkInterface(
    ifaceId: string,
    options: { hostDevName: string; guestMac: string },
  ): Promise<void> {
    await this.call('PUT', `/network-interfaces/${encodeURIComponent(ifaceId)}`, {
      iface_id: ifaceId,
      host_dev_name: options.hostDevName,
      guest_mac: options.guestMac,
    });
  }

  /** `PATCH /vm`: pauses or resumes the vCPUs (v1 only, as everything about snapshots). */
  async patchVm(state: 'Paused' | 'Resumed'): Promise<void> {
    await this.call('PATCH', '/vm', { state });
  }

  /** `PUT /snapshot/create`: a full snapshot of a paused VM, state and memory in two files. */
  async createSnapshot(options: { snapshotPath: string; memFilePath: string }): Promise<void> {
    await this.call('PUT', '/snapshot/create', {
      snapshot_type: 'Full',
      snapshot_path: options.snapshotPath,
      mem_file_path: options.memFilePath,
    });
  }

  /**
   * `PUT /snapshot/load`, on a fresh process (only the logger and metrics configured). The VM
   * stays paused; `networkOverrides` moves interfaces to this VM's taps.
   */
  async loadSnapshot(options: {
    snapshotPath: string;
    memFilePath: string;
    networkOverrides: { ifaceId: string; hostDevName: string }[];
  }): Promise<void> {
    await this.call('PUT', '/snapshot/load', {
      snapshot_path: options.snapshotPath,
      mem_backend: { backend_type: 'File', backend_path: options.memFilePath },
      resume_vm: false,
      ...(options.networkOverrides.length === 0
        ? {}
        : {
            network_overrides: options.networkOverrides.map((o) => ({
              iface_id: o.ifaceId,
              host_dev_name: o.hostDevName,
            })),
          }),
    });
  }

  /** `PATCH /drives/{id}`: points a drive of a started or restored VM at another file. */
  async patchDrive(driveId: string, pathOnHost: string): Promise<void> {
    await this.call('PATCH', `/drives/${encodeURIComponent(driveId)}`, {
      drive_id: driveId,
      path_on_host: pathOnHost,
    });
  }

  /** `PUT /actions`: InstanceStart boots; SendCtrlAltDel asks the guest to stop. */
  async action(type: ActionType): Promise<void> {
    await this.call('PUT', '/actions', { action_type: type });
  }

  private async call(
    method: 'GET' | 'PUT' | 'PATCH',
    path: string,
    body?: unknown,
  ): Promise<unknown> {
    const what = `firecracker ${method} ${path}${actionName(body)}`;
    let res: FirecrackerResponse;
    try {
      res = await this.transport.request(method, path, body);
    } catch (err) {
      throw unavailable(`${this.label}: ${what}: ${(err as Error).message}`, { cause: err });
    }
    if (res.status >= 200 && res.status < 300) return res.body;
    const fault =
      typeof res.body === 'object' && res.body !== null && 'fault_message' in res.body
        ? String(res.body.fault_message)
        : `HTTP ${res.status}`;
    const message = `${this.label}: ${what}: ${fault}`;
    // 400 is Firecracker's "bad input or wrong state"; anything else is its own failure.
    if (res.status === 400) throw invalidArgument(message, { cause: res });
    throw internal(message, { cause: res });
  }
}

function actionName(body: unknown): string {
  if (typeof body === 'object' && body !== null && 'action_type' in body) {
    return ` (${String(body.action_type)})`;
  }
  return '';
}

/** The API generation a `firecracker --version` output speaks; v1 when it cannot tell. */
export function apiForVersion(versionOutput: string): { api: FirecrackerApi; version?: string } {
  const m = /v?(\d+)\.(\d+)\.(\d+)/.exec(versionOutput);
  if (m === null) return { api: 'v1' };
  return { api: m[1] === '0' ? 'v0' : 'v1', version: `${m[1]}.${m[2]}.${m[3]}` };
}
